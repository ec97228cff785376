"""The Ray Data batch executor: the local executor's resumable chunks, read and scored by Ray.

The run, its plan, the parts and the chunk commits are exactly those of :mod:`scheduling.executor`
(so a run started or interrupted on one executor can be finished on the other, and a committed chunk
is never scored again). With the latest-values feature source (the default) one Ray Data pipeline
does the rest of a run: Ray tasks read the pending chunks straight from the offline parquet
(:func:`features.latest.latest_values_between`, up to :data:`features.latest.BLOCK_ROWS` entities
per query, :data:`READERS` at a time), an actor pool scores them, each actor holding one ONNX
Runtime session, and the driver writes and commits each chunk as its rows arrive, in chunk order
(the dataset preserves order). Readers and actors ask for a fraction of a CPU (``num_cpus=0.25`` by
default), so the pipeline never starves the rest of the cluster, and Ray Data's backpressure keeps
memory bounded. With Feast's point-in-time read the driver reads the chunks and sends them to the
actors in windows of :data:`WINDOW_CHUNKS`. Ray is started in-process (temp dir under the data
dir, no dashboard) unless an ``address`` names a cluster or Ray is already initialised; only a Ray
this module started is shut down.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, cast

import numpy as np

from features.latest import BLOCK_ROWS
from scheduling.executor import BatchReport, PendingChunk, ScoredChunks, execute_run
from warehouse.progress import ProgressCallback, no_progress
from warehouse.ray_runtime import ray_connection

if TYPE_CHECKING:
    import pandas as pd

    from scheduling.specs import RunPlan
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

WINDOW_CHUNKS = 4
"""Pending chunks the driver sends to Ray as one dataset (point-in-time reads); bounds its memory."""
READERS = 2
"""Ray tasks reading chunks at once by default (each runs one DuckDB query under the data dir's memory limit)."""
ACTOR_CPUS = 0.25
"""CPUs each scoring actor and reading task asks for by default: a fraction, so that a run never
starves other Ray work."""
ACTORS = 2
"""Scoring actors in the pool by default (``settings.ray_batch_actors`` sizes a run's)."""
CHUNK_COLUMN = "__warehouse_chunk"
ROW_COLUMN = "__warehouse_row"
PROBABILITY_COLUMN = "__warehouse_probability"
TAGS = [CHUNK_COLUMN, ROW_COLUMN, PROBABILITY_COLUMN]


class OnnxBatchScorer:
    """A Ray Data actor: one ONNX Runtime session built from the model's bytes, scoring pandas batches."""

    def __init__(self, *, onnx: bytes, input_name: str, output_name: str, features: list[str], positive: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        self._session = ort.InferenceSession(onnx, sess_options=options, providers=["CPUExecutionProvider"])
        self._input, self._output, self._features, self._positive = input_name, output_name, features, positive

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The batch with the probability of each row."""
        if batch.empty:  # every row of a chunk may fall outside the population filter
            return batch.assign(**{PROBABILITY_COLUMN: np.empty(0, dtype=np.float64)})
        matrix = batch[self._features].to_numpy(dtype=np.float32, na_value=np.nan)
        (output,) = self._session.run([self._output], {self._input: matrix})
        probabilities = np.asarray(output, dtype=np.float64)
        if probabilities.ndim == 2:
            probabilities = probabilities[:, self._positive]
        return batch.assign(**{PROBABILITY_COLUMN: probabilities})


class RayScorer:
    """Scores a run on Ray: reads and scores the pending chunks in one pipeline (latest values), or
    scores chunks the executor read in windows (point in time). A :class:`ReadingScorer`."""

    def __init__(
        self, model: OnnxModel, *, actors: int = ACTORS, actor_cpus: float = ACTOR_CPUS, readers: int = READERS
    ) -> None:
        metadata = model.metadata
        self._constructor: dict[str, object] = {
            "onnx": model.artifact.onnx_path.read_bytes(),
            "input_name": metadata.onnx_input,
            "output_name": metadata.onnx_output,
            "features": list(metadata.feature_names),
            "positive": metadata.positive_class_index,
        }
        self._actors, self._actor_cpus, self._readers = actors, actor_cpus, readers

    def __call__(self, chunks: Iterable[PendingChunk]) -> Iterator[tuple[PendingChunk, np.ndarray]]:
        """Score chunks the executor read, a window of :data:`WINDOW_CHUNKS` at a time."""
        iterator = iter(chunks)
        while window := list(islice(iterator, WINDOW_CHUNKS)):
            yield from _score_window(window, self._constructor, actors=self._actors, actor_cpus=self._actor_cpus)

    def read_and_score(self, settings: Settings, plan: RunPlan, committed: Collection[int]) -> ScoredChunks | None:
        """One pipeline for every pending chunk of a latest-values run; None for a point-in-time one."""
        if plan.features != "latest":
            return None
        import pandas as pd

        from features.definitions import service_spec
        from features.latest import plan_blocks

        service = service_spec(plan.feature_service)
        chunks = plan_blocks(settings, service, plan.chunk_rows)
        pending = [index for index in range(len(chunks.first_keys)) if index not in committed]
        empty = pd.DataFrame({plan.entity_key: pd.Series(dtype="object")})
        empty[service.feature_names] = np.empty((0, len(service.feature_names)), dtype=np.float64)
        return chunks.entities, self._pipeline(settings, plan, chunks.first_keys, chunks.entities, pending, empty)

    def _pipeline(
        self,
        settings: Settings,
        plan: RunPlan,
        firsts: list[str],
        entities: int,
        pending: list[int],
        empty: pd.DataFrame,
    ) -> Iterator[tuple[PendingChunk, np.ndarray]]:
        import ray

        if not pending:
            return
        groups = _read_groups(pending, max(1, BLOCK_ROWS // plan.chunk_rows))
        read = functools.partial(_read_group, settings=settings, plan=plan, firsts=firsts, groups=groups)
        context = ray.data.DataContext.get_current()
        ordered, context.execution_options.preserve_order = context.execution_options.preserve_order, True
        try:
            dataset = (
                ray.data.range(len(groups), override_num_blocks=len(groups))
                .map_batches(
                    read, batch_size=1, batch_format="numpy", num_cpus=self._actor_cpus, concurrency=self._readers
                )
                .map_batches(
                    OnnxBatchScorer,
                    fn_constructor_kwargs=self._constructor,
                    concurrency=self._actors,
                    num_cpus=self._actor_cpus,
                    batch_size=plan.chunk_rows,
                    batch_format="pandas",
                )
            )
            batches = cast("Iterable[pd.DataFrame]", dataset.iter_batches(batch_size=None, batch_format="pandas"))
            yield from _chunks_in_order(batches, pending, empty=empty, entities=entities, chunk_rows=plan.chunk_rows)
        finally:
            context.execution_options.preserve_order = ordered


def _read_groups(pending: list[int], most: int) -> list[list[int]]:
    """Pending chunk indices cut into runs of consecutive indices, at most ``most`` each (one query each)."""
    groups: list[list[int]] = []
    for index in pending:
        if groups and groups[-1][-1] == index - 1 and len(groups[-1]) < most:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _read_group(
    batch: dict[str, np.ndarray], *, settings: Settings, plan: RunPlan, firsts: list[str], groups: list[list[int]]
) -> pd.DataFrame:
    """A Ray task: the filtered rows of one group of chunks, tagged with their chunk and row positions."""
    import pandas as pd

    from features.latest import latest_values_between
    from scheduling.executor import apply_filter

    (position,) = batch["id"]
    indices = groups[int(position)]
    after = indices[-1] + 1
    frame = latest_values_between(
        settings,
        feature_service=plan.feature_service,
        as_of=plan.as_of,
        first=firsts[indices[0]],
        following=firsts[after] if after < len(firsts) else None,
    )
    parts = []
    for offset, index in enumerate(indices):
        chunk = apply_filter(
            frame.iloc[offset * plan.chunk_rows : (offset + 1) * plan.chunk_rows], plan.population_filter
        )
        parts.append(_tagged(chunk, index))
    return pd.concat(parts, ignore_index=True)


def _chunks_in_order(
    batches: Iterable[pd.DataFrame], pending: list[int], *, empty: pd.DataFrame, entities: int, chunk_rows: int
) -> Iterator[tuple[PendingChunk, np.ndarray]]:
    """Reassemble the ordered stream of scored rows into the pending chunks, in index order (a chunk
    whose rows the filter removed comes out as ``empty``, the chunk columns with no rows)."""
    import pandas as pd

    waiting = iter(pending)
    current: int | None = None
    parts: list[pd.DataFrame] = []

    def finish(index: int, frames: list[pd.DataFrame]) -> tuple[PendingChunk, np.ndarray]:
        count = min(chunk_rows, entities - index * chunk_rows)
        rows = pd.concat(frames, ignore_index=True) if frames else empty
        if rows.empty:
            return PendingChunk(index, count, empty), np.empty(0, dtype=np.float64)
        rows = rows.sort_values(ROW_COLUMN, kind="stable")
        probabilities = rows[PROBABILITY_COLUMN].to_numpy(dtype=np.float64)
        return PendingChunk(index, count, rows.drop(columns=TAGS).reset_index(drop=True)), probabilities

    def until(index: int | None) -> Iterator[tuple[PendingChunk, np.ndarray]]:
        """Every pending chunk before ``index`` (all of them for None) that has no rows left to come."""
        for waiting_index in waiting:
            if waiting_index == index:
                return
            yield finish(waiting_index, [])

    for batch in batches:
        for key, part in batch.groupby(CHUNK_COLUMN, sort=False):
            index = int(cast("int", key))
            if index != current:
                if current is not None:
                    yield finish(current, parts)
                yield from until(index)
                current, parts = index, []
            parts.append(part)
    if current is not None:
        yield finish(current, parts)
    yield from until(None)


def _score_window(
    window: list[PendingChunk], constructor: dict[str, object], *, actors: int, actor_cpus: float
) -> Iterator[tuple[PendingChunk, np.ndarray]]:
    import ray

    features = constructor["features"]
    assert isinstance(features, list)
    frames = [_tagged(chunk.rows[features], position) for position, chunk in enumerate(window) if len(chunk.rows)]
    probabilities: dict[int, np.ndarray] = {}
    if frames:
        dataset = ray.data.from_pandas(frames).map_batches(
            OnnxBatchScorer,
            fn_constructor_kwargs=constructor,
            concurrency=actors,
            num_cpus=actor_cpus,
            batch_format="pandas",
        )
        scored = dataset.to_pandas()
        for position, part in scored.groupby(CHUNK_COLUMN):
            probabilities[int(position)] = part.sort_values(ROW_COLUMN)[PROBABILITY_COLUMN].to_numpy(dtype=np.float64)
    for position, chunk in enumerate(window):
        yield chunk, probabilities.get(position, np.empty(0, dtype=np.float64))


def _tagged(rows: pd.DataFrame, position: int) -> pd.DataFrame:
    """The rows with their chunk's position in the window and their own position in the chunk."""
    tagged = rows.reset_index(drop=True)
    tagged[CHUNK_COLUMN] = position
    tagged[ROW_COLUMN] = np.arange(len(tagged))
    return tagged


def execute_run_on_ray(
    settings: Settings,
    run_id: str,
    *,
    address: str | None = None,
    on_progress: ProgressCallback = no_progress,
    actors: int | None = None,
    actor_cpus: float | None = None,
    readers: int | None = None,
) -> BatchReport:
    """Execute run ``run_id`` with Ray Data scoring (same chunks, parts and commits as the local executor).

    ``actors``, ``actor_cpus`` and ``readers`` default to ``settings.ray_batch_actors``,
    ``ray_batch_cpus`` and ``ray_batch_readers`` (``WAREHOUSE_RAY_BATCH_*``): size them to the cluster.
    """
    pool = actors or settings.ray_batch_actors
    cpus = actor_cpus or settings.ray_batch_cpus
    reading = readers or settings.ray_batch_readers
    with ray_connection(settings, address=address):
        return execute_run(
            settings,
            run_id,
            on_progress=on_progress,
            scorer_factory=lambda model: RayScorer(model, actors=pool, actor_cpus=cpus, readers=reading),
            executor="ray",
        )
