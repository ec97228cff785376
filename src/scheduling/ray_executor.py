"""The Ray Data batch executor: the local executor's resumable chunks, scored by a pool of Ray actors.

The run, its plan, the feature read, the parts and the chunk commits are exactly those of
:mod:`scheduling.executor` (so a run started or interrupted on one executor can be finished on the
other, and a committed chunk is never scored again); only the scoring moves to Ray. Pending chunks
are sent in windows of :data:`WINDOW_CHUNKS` as one Ray Dataset, scored by ``map_batches`` on an
actor pool whose actors each hold one ONNX Runtime session and ask for a fraction of a CPU
(``num_cpus=0.25`` by default), so the pool never starves the rest of the cluster; the driver then
writes and commits each chunk of the window. Memory stays bounded by the window. Ray is started
in-process (temp dir under the data dir, no dashboard) unless an ``address`` names a cluster or
Ray is already initialised; only a Ray this module started is shut down.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from scheduling.executor import BatchReport, ChunkScorer, PendingChunk, execute_run
from warehouse.progress import ProgressCallback, no_progress
from warehouse.ray_runtime import ray_connection

if TYPE_CHECKING:
    import pandas as pd

    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

WINDOW_CHUNKS = 4
"""Pending chunks sent to Ray as one dataset; bounds the driver's memory."""
ACTOR_CPUS = 0.25
"""CPUs each scoring actor asks for: a fraction, so scoring never starves other Ray work."""
ACTORS = 2
"""Scoring actors in the pool."""
CHUNK_COLUMN = "__warehouse_chunk"
ROW_COLUMN = "__warehouse_row"


class OnnxBatchScorer:
    """A Ray Data actor: one ONNX Runtime session built from the model's bytes, scoring pandas batches."""

    def __init__(self, *, onnx: bytes, input_name: str, output_name: str, features: list[str], positive: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        self._session = ort.InferenceSession(onnx, sess_options=options, providers=["CPUExecutionProvider"])
        self._input, self._output, self._features, self._positive = input_name, output_name, features, positive

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """``chunk, row, probability`` of every row of the batch."""
        import pandas as pd

        matrix = batch[self._features].to_numpy(dtype=np.float32, na_value=np.nan)
        (output,) = self._session.run([self._output], {self._input: matrix})
        probabilities = np.asarray(output, dtype=np.float64)
        if probabilities.ndim == 2:
            probabilities = probabilities[:, self._positive]
        return pd.DataFrame(
            {CHUNK_COLUMN: batch[CHUNK_COLUMN], ROW_COLUMN: batch[ROW_COLUMN], "probability": probabilities}
        )


def ray_scorer(model: OnnxModel, *, actors: int = ACTORS, actor_cpus: float = ACTOR_CPUS) -> ChunkScorer:
    """A chunk scorer that sends windows of chunks through ``map_batches`` on a Ray actor pool."""
    metadata = model.metadata
    constructor = {
        "onnx": model.artifact.onnx_path.read_bytes(),
        "input_name": metadata.onnx_input,
        "output_name": metadata.onnx_output,
        "features": list(metadata.feature_names),
        "positive": metadata.positive_class_index,
    }

    def score(chunks: Iterable[PendingChunk]) -> Iterator[tuple[PendingChunk, np.ndarray]]:
        iterator = iter(chunks)
        while window := list(islice(iterator, WINDOW_CHUNKS)):
            yield from _score_window(window, constructor, actors=actors, actor_cpus=actor_cpus)

    return score


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
            probabilities[int(position)] = part.sort_values(ROW_COLUMN)["probability"].to_numpy(dtype=np.float64)
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
    actors: int = ACTORS,
    actor_cpus: float = ACTOR_CPUS,
) -> BatchReport:
    """Execute run ``run_id`` with Ray Data scoring (same chunks, parts and commits as the local executor)."""
    with ray_connection(settings, address=address):
        return execute_run(
            settings,
            run_id,
            on_progress=on_progress,
            scorer_factory=lambda model: ray_scorer(model, actors=actors, actor_cpus=actor_cpus),
            executor="ray",
        )
