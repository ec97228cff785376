"""Lineage of a training run: the SM3 digest of its data and the git commit of its code.

The digest is taken over a canonical binary encoding of the frame, defined here and versioned by
:data:`CANONICAL_FORMAT`: rows sorted by the given keys (stable sort), columns sorted by name, and
for each column its name, a type tag and its values as little-endian bytes: integers and booleans
as int64, other numbers as float64 with every NaN written as the same quiet NaN, datetimes as
int64 nanoseconds since the epoch in UTC (NaT as int64 min), anything else as text: every value's
UTF-8 length (-1 for missing) as int64, then all the UTF-8 bytes. The same data gives the same
digest whatever order it was built in and whichever pandas, pyarrow or parquet writer produced
it. A CSV rendering would be as canonical but costs about 7 s for 300k rows x 28 columns (float
formatting); this takes about half a second. Parquet bytes would not do: the writer embeds its
version.
"""

from __future__ import annotations

import logging
import struct
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

CANONICAL_FORMAT = b"warehouse-canonical-frame-v1"
UNKNOWN_COMMIT = "unknown"


def training_data_digest(frame: pd.DataFrame, *, sort_by: Sequence[str]) -> str:
    """SM3 hex digest of the canonical encoding of ``frame`` (see the module docstring)."""
    from cryptography.hazmat.primitives import hashes

    keys = frame[list(sort_by)].reset_index(drop=True)
    order = keys.sort_values(list(sort_by), kind="mergesort").index.to_numpy()
    digest = hashes.Hash(hashes.SM3())
    digest.update(CANONICAL_FORMAT + struct.pack("<q", len(frame)))
    for name in sorted(frame.columns, key=str):
        for part in _column_bytes(str(name), frame[name].iloc[order]):
            digest.update(part)
    return digest.finalize().hex()


def _column_bytes(name: str, column: pd.Series) -> Iterator[bytes]:
    yield _text(name)
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        instants = column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
        yield b"datetime"
        yield instants.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view("<i8").tobytes()
    elif (pd.api.types.is_integer_dtype(column) or pd.api.types.is_bool_dtype(column)) and not column.hasnans:
        yield b"int64"
        yield column.to_numpy(dtype="<i8").tobytes()
    elif pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype="<f8", na_value=np.nan)
        yield b"float64"
        yield np.where(np.isnan(values), np.nan, values).astype("<f8").tobytes()
    else:
        yield b"text"
        yield from _text_column(column)


def _text_column(column: pd.Series) -> Iterator[bytes]:
    """All lengths (-1 = missing) as one int64 block, then all UTF-8 bytes back to back."""
    missing = column.isna().to_numpy()
    encoded = [
        b"" if absent else str(value).encode("utf-8") for value, absent in zip(column.tolist(), missing, strict=True)
    ]
    lengths = np.fromiter(map(len, encoded), dtype="<i8", count=len(encoded))
    lengths[missing] = -1
    yield lengths.tobytes()
    yield b"".join(encoded)


def _text(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return struct.pack("<q", len(encoded)) + encoded


def git_commit() -> str:
    """The commit checked out in the working tree holding this code, or ``unknown`` outside git."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("no git commit for the training code: %s", exc)
        return UNKNOWN_COMMIT
    return completed.stdout.strip() or UNKNOWN_COMMIT
