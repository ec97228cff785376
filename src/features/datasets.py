"""Generated populations on disk: parquet tables plus a manifest under ``datasets_dir/<population>/``.

Each table is validated against its raw schema before it is written, written to a temporary file
and moved into place; the manifest is written last, so a manifest on disk means a complete
dataset. The manifest records paths relative to the datasets dir, so a copied data dir stands on
its own.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, ValidationError

from features.definitions import feature_package
from features.schemas import raw_table_schema, validate_frame
from warehouse.errors import DatasetNotFound
from warehouse.progress import ProgressCallback, no_progress
from warehouse.settings import Settings

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
TIMESTAMP_COLUMN = "event_timestamp"
ROW_GROUP_ROWS = 100_000
"""Rows per parquet row group. A generator writes each snapshot sorted by entity key, so a row group
covers a narrow key range and its min/max statistics let a key-range read (the latest-values reader's
blocks, :mod:`features.latest`) skip every group outside its block: with pyarrow's default of about a
million rows, a group spans most keys of a large population and every block decoded it again."""


class DatasetManifest(BaseModel):
    """What a generated population holds; paths are relative to ``settings.datasets_dir``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    population: str
    entity_key: str
    n_entities: int
    months: int
    seed: int
    tables: dict[str, str]
    rows: dict[str, int]
    last_snapshot: datetime


def population_dir(settings: Settings, population: str) -> Path:
    """Directory holding one population's tables and manifest."""
    return settings.datasets_dir / population


def table_path(settings: Settings, population: str, table: str) -> Path:
    """Absolute path of one table of a population, under the current data dir."""
    return population_dir(settings, population) / f"{table}.parquet"


def load_manifest(settings: Settings, population: str) -> DatasetManifest:
    """The manifest of a generated population; :class:`DatasetNotFound` when there is none."""
    path = population_dir(settings, population) / MANIFEST_FILE
    try:
        return DatasetManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetNotFound(f"population {population!r} has not been generated in {settings.datasets_dir}") from None
    except ValidationError as error:
        raise DatasetNotFound(f"manifest of population {population!r} is unreadable: {error}") from error


def read_table(settings: Settings, population: str, table: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One table of a generated population as pandas; :class:`DatasetNotFound` when absent."""
    load_manifest(settings, population)
    path = table_path(settings, population, table)
    if not path.is_file():
        raise DatasetNotFound(f"table {table!r} of population {population!r} is missing: {path.name}")
    frame: pd.DataFrame = pq.read_table(path, columns=columns).to_pandas()
    return frame


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    temporary = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temporary, row_group_size=ROW_GROUP_ROWS)
    os.replace(temporary, path)


def generate_population(
    settings: Settings,
    *,
    population: str = "buildings",
    n_entities: int = 20_000,
    months: int = 24,
    seed: int = 42,
    end_month: date | None = None,
    on_progress: ProgressCallback | None = None,
) -> DatasetManifest:
    """Generate, validate and write a seeded population; returns its manifest."""
    package = feature_package(population)
    spec = package.population
    progress = on_progress or no_progress
    progress(0, len(spec.tables) + 1)
    frames = package.generator(n_entities, months=months, seed=seed, end_month=end_month)
    progress(1)
    directory = population_dir(settings, population)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST_FILE).unlink(missing_ok=True)
    for table in spec.tables:
        _write_parquet(
            validate_frame(raw_table_schema(population, table), frames[table]), table_path(settings, population, table)
        )
        progress(1)
    manifest = DatasetManifest(
        population=population,
        entity_key=spec.entity_key,
        n_entities=n_entities,
        months=months,
        seed=seed,
        tables={table: f"{population}/{table}.parquet" for table in spec.tables},
        rows={table: len(frames[table]) for table in spec.tables},
        last_snapshot=frames[spec.views[0].table][TIMESTAMP_COLUMN].max().to_pydatetime(),
    )
    (directory / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    logger.info("generated population %s: %d entities x %d months, seed %d", population, n_entities, months, seed)
    return manifest
