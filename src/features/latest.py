"""The latest feature values of a whole population, read straight from the offline parquet with DuckDB.

The batch executor's fast feature source. For every entity of the population and every view of the
feature service it takes the row with the latest ``event_timestamp`` in ``[as_of - ttl, as_of]``,
which is what Feast's point-in-time join answers for an entity row stamped ``as_of`` (and what a
materialisation of the latest values writes online), without Feast: no ``feast`` import, no
registry, no entity frame. The population is cut into blocks of :data:`BLOCK_ROWS`
entities in key order (one scan of its keys, which also counts it); one DuckDB query per block joins
the views' latest rows onto the block's entities, ordered by key, and is streamed as Arrow record
batches, which are cut into chunks of exactly ``chunk_rows`` rows, so the chunks are the ones
:mod:`features.offline` yields. Each block's key range is pushed into the parquet scans, and the
tables' small row groups (:data:`features.datasets.ROW_GROUP_ROWS`) let the scans skip the groups
outside it, so a block costs the same whatever the population. DuckDB runs under a memory limit and
spills to a scratch dir inside the data dir, so memory stays bounded by the limit and the chunk
size, not by the population.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from features.datasets import TIMESTAMP_COLUMN, load_manifest, table_path
from features.definitions import service_spec
from features.schemas import population_chunk_check
from warehouse.db import as_utc
from warehouse.errors import DatasetNotFound, InvalidRequest
from warehouse.progress import ProgressCallback, no_progress
from warehouse.settings import Settings

if TYPE_CHECKING:
    import duckdb

    from features.definitions.specs import ServiceSpec

logger = logging.getLogger(__name__)

SCRATCH_DIR = "duckdb"
"""Where DuckDB spills, inside the data dir's runtime dir."""
BLOCK_ROWS = 100_000
"""Entities per DuckDB query: bounds the memory one query needs, whatever the population's size."""


def quote_identifier(name: str) -> str:
    """A column name as a quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def latest_values_query(service: ServiceSpec) -> str:
    """One row per entity of a block of the population: key, then the service's features (NULL where a
    view has none), ordered by key.

    Named parameters: ``population`` (its first view's table), ``first`` and ``next`` (the block's
    first key and the next block's, NULL for the last block), ``start`` and ``end`` (the window),
    and ``view_<i>`` (each view's table).
    """
    key = quote_identifier(service.entity_key)
    stamp = quote_identifier(TIMESTAMP_COLUMN)
    in_block = f"{key} >= $first AND ($next IS NULL OR {key} < $next)"
    parts = [f"population AS (SELECT DISTINCT {key} FROM read_parquet($population) WHERE {in_block})"]
    joins, columns = [], [f"population.{key}"]
    for position, view in enumerate(service.views):
        alias = f"view_{position}"
        names = ", ".join(quote_identifier(name) for name in view.feature_names)
        # The latest stamp per entity, then its row: an aggregate and a join over the block's rows only.
        parts.append(
            f"{alias}_rows AS (SELECT {key}, {stamp}, {names} FROM read_parquet(${alias}) WHERE {stamp} >= $start "
            f"AND {stamp} <= $end AND {in_block})"
        )
        parts.append(
            f"{alias} AS (SELECT {key}, {names} FROM {alias}_rows JOIN "
            f"(SELECT {key}, max({stamp}) AS {stamp} FROM {alias}_rows GROUP BY {key}) USING ({key}, {stamp}))"
        )
        joins.append(f"LEFT JOIN {alias} USING ({key})")
        columns.extend(f"{alias}.{quote_identifier(name)}" for name in view.feature_names)
    return (
        f"WITH {', '.join(parts)} SELECT {', '.join(columns)} FROM population {' '.join(joins)} "
        f"ORDER BY population.{key}"
    )


def _connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    import duckdb

    scratch = settings.runtime_dir / SCRATCH_DIR
    scratch.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(
        config={
            "memory_limit": f"{settings.batch_read_memory_mb}MB",
            "temp_directory": str(scratch),
            "threads": 1,
        }
    )
    connection.execute("SET enable_progress_bar = false")  # DuckDB would draw its own bar on stdout
    return connection


def _parameters(settings: Settings, service: ServiceSpec, as_of: datetime) -> dict[str, object]:
    """The query's named parameters but the block bounds; a missing table raises :class:`DatasetNotFound`."""
    population = service.population
    tables = {"population": population.views[0].table}
    tables.update({f"view_{position}": view.table for position, view in enumerate(service.views)})
    parameters: dict[str, object] = {"start": as_of - population.ttl, "end": as_of}
    for name, table in tables.items():
        path = table_path(settings, population.name, table)
        if not path.is_file():
            raise DatasetNotFound(f"table {table!r} of population {population.name!r} is missing")
        parameters[name] = str(path)
    return parameters


@dataclass(frozen=True)
class PopulationBlocks:
    """How a population is cut into blocks: its distinct entities and each block's first key, in key order."""

    entities: int
    first_keys: list[str]


def plan_blocks(settings: Settings, service: ServiceSpec, block_rows: int) -> PopulationBlocks:
    """Count the service's population (its first view's table) and find its blocks' first keys, in one scan."""
    population = service.population
    path = str(table_path(settings, population.name, population.views[0].table))
    column = quote_identifier(population.entity_key)
    query = (
        f"SELECT {column}, entities FROM (SELECT {column}, row_number() OVER (ORDER BY {column}) - 1 AS position, "
        f"count(*) OVER () AS entities FROM (SELECT DISTINCT {column} FROM read_parquet($path))) "
        f"WHERE position % $block = 0 ORDER BY {column}"
    )
    with _connect(settings) as connection:
        rows = connection.execute(query, {"path": path, "block": block_rows}).fetchall()
    return PopulationBlocks(entities=int(rows[0][1]) if rows else 0, first_keys=[str(row[0]) for row in rows])


def _exact_chunks(batches: Iterator[pa.RecordBatch], chunk_rows: int) -> Iterator[pa.Table]:
    """Re-cut a stream of record batches into tables of exactly ``chunk_rows`` rows (the last: the rest)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows)
            rest = table.slice(chunk_rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def _blocks(
    settings: Settings, service: ServiceSpec, as_of: datetime, firsts: list[str], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Record batches of the latest values, one DuckDB query per block of entities, in key order."""
    parameters = _parameters(settings, service, as_of)
    query = latest_values_query(service)
    with _connect(settings) as connection:
        for first, following in zip(firsts, [*firsts[1:], None], strict=True):
            relation = connection.sql(query, params={**parameters, "first": first, "next": following})
            if relation is None:
                raise DatasetNotFound(f"the latest values of {service.name!r} gave no result")
            yield from relation.to_arrow_reader(batch_rows)


def _chunks(
    settings: Settings,
    service: ServiceSpec,
    as_of: datetime,
    blocks: PopulationBlocks,
    chunk_rows: int,
    on_progress: ProgressCallback,
) -> Iterator[pd.DataFrame]:
    batches = _blocks(settings, service, as_of, blocks.first_keys, chunk_rows)
    for table in _exact_chunks(batches, chunk_rows):
        chunk = _checked_frame(service, table)
        on_progress(len(chunk))
        yield chunk


def _checked_frame(service: ServiceSpec, table: pa.Table) -> pd.DataFrame:
    """Latest values as the executor scores them: features as float64, checked by the chunk schema."""
    frame = table.to_pandas().astype(dict.fromkeys(service.feature_names, "float64"))
    checked: pd.DataFrame = population_chunk_check(service.name).validate(frame)
    return checked


def latest_values_between(
    settings: Settings, *, feature_service: str, as_of: datetime, first: str, following: str | None
) -> pd.DataFrame:
    """``[entity key, features...]`` of the entities whose key is in ``[first, following)`` (``None``: to
    the last), at ``as_of``, in key order and checked: one DuckDB query over one key range.

    With the first keys :func:`plan_blocks` finds for a block size of the chunk size, a range from one
    chunk's first key to a later one's holds exactly those chunks of :func:`iter_latest_features`
    (the Ray executor reads chunks this way, in Ray tasks).
    """
    service = service_spec(feature_service)
    parameters = _parameters(settings, service, as_utc(as_of))
    with _connect(settings) as connection:
        relation = connection.sql(
            latest_values_query(service), params={**parameters, "first": first, "next": following}
        )
        if relation is None:
            raise DatasetNotFound(f"the latest values of {service.name!r} gave no result")
        table = relation.to_arrow_table()
    return _checked_frame(service, table)


def iter_latest_features(
    settings: Settings,
    *,
    feature_service: str = "fire_risk",
    as_of: datetime | None = None,
    chunk_rows: int = 5_000,
    on_progress: ProgressCallback | None = None,
) -> Iterator[pd.DataFrame]:
    """Chunks of ``[entity key, features...]``: each entity's latest values at ``as_of``, sorted by key.

    Same contract and chunks as :func:`features.offline.iter_population_features`: ``as_of``
    defaults to the population's last snapshot (naive = UTC); checks and the scan that counts the
    population and cuts it into blocks run at call time, the block queries as chunks are consumed.
    """
    if chunk_rows < 1:
        raise InvalidRequest("chunk_rows must be at least 1")
    service = service_spec(feature_service)
    moment = as_utc(as_of or load_manifest(settings, service.population.name).last_snapshot)
    _parameters(settings, service, moment)
    blocks = plan_blocks(settings, service, BLOCK_ROWS)
    progress = on_progress or no_progress
    progress(0, blocks.entities)
    logger.info("latest features %s as of %s: %d entities", feature_service, moment, blocks.entities)
    return _chunks(settings, service, moment, blocks, chunk_rows, progress)
