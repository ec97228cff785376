"""How the Ray executor cuts pending chunks into read groups and puts the scored stream back into chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scheduling.ray_executor import CHUNK_COLUMN, PROBABILITY_COLUMN, ROW_COLUMN, _chunks_in_order, _read_groups

EMPTY = pd.DataFrame({"building_id": pd.Series(dtype="object"), "floors": pd.Series(dtype="float64")})


def test_read_groups_are_runs_of_consecutive_pending_chunks_of_bounded_length() -> None:
    assert _read_groups([0, 1, 2, 3, 4, 7, 8, 10], 3) == [[0, 1, 2], [3, 4], [7, 8], [10]]
    assert _read_groups([], 5) == []


def _scored(chunk: int, rows: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": [f"B{chunk}-{row}" for row in rows],
            "floors": [float(row) for row in rows],
            CHUNK_COLUMN: chunk,
            ROW_COLUMN: rows,
            PROBABILITY_COLUMN: [chunk + row / 10 for row in rows],
        }
    )


def test_the_stream_becomes_the_pending_chunks_in_order_with_emptied_ones_in_their_place() -> None:
    # Batches cut across chunks, rows of a chunk split over two batches, chunk 3 emptied by the
    # filter in the middle and chunk 6 at the end; the last chunk holds the population's remainder.
    batches = [
        pd.concat([_scored(2, [0, 1]), _scored(4, [0])]),
        pd.concat([_scored(4, [2, 1]), _scored(5, [0])]),
    ]
    chunks = list(_chunks_in_order(iter(batches), [2, 3, 4, 5, 6], empty=EMPTY, entities=63, chunk_rows=10))
    assert [(chunk.index, chunk.entities, len(chunk.rows)) for chunk, _ in chunks] == [
        (2, 10, 2),
        (3, 10, 0),
        (4, 10, 3),
        (5, 10, 1),
        (6, 3, 0),
    ]
    four, probabilities = chunks[2]
    assert four.rows["building_id"].tolist() == ["B4-0", "B4-1", "B4-2"]  # back in row order
    assert list(four.rows.columns) == ["building_id", "floors"]
    np.testing.assert_allclose(probabilities, [4.0, 4.1, 4.2])
    assert list(chunks[1][0].rows.columns) == list(EMPTY.columns) and chunks[1][1].size == 0


def test_a_stream_with_no_rows_still_yields_every_pending_chunk() -> None:
    chunks = list(_chunks_in_order(iter([]), [0, 1], empty=EMPTY, entities=15, chunk_rows=10))
    assert [(chunk.index, chunk.entities, len(chunk.rows)) for chunk, _ in chunks] == [(0, 10, 0), (1, 5, 0)]
