"""Time-based train / hold-out splits of monthly snapshot data.

The hold-out is the last ``holdout_months`` calendar months (UTC) present in the frame, so the
model is judged on months after everything it was fitted on, as it will be used. A random split
would leak each building's future snapshots into training. :func:`expanding_window_splits` gives
the folds of a rolling validation: train on every month up to ``t``, validate on month ``t + 1``,
for each of the last ``folds`` months.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from algorithms.base import TIMESTAMP_COLUMN
from warehouse.errors import DataValidationError, InvalidRequest


@dataclass(frozen=True)
class TimeSplit:
    """Rows before the hold-out months, and the rows in them."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    holdout_months: tuple[str, ...]
    """The hold-out months as ``YYYY-MM``, oldest first."""


def _months(frame: pd.DataFrame) -> pd.Series:
    """Each row's snapshot month as ``YYYYMM`` (UTC)."""
    timestamps = frame[TIMESTAMP_COLUMN].dt.tz_convert("UTC")
    months: pd.Series = timestamps.dt.year * 100 + timestamps.dt.month
    return months


def _distinct_months(months: pd.Series, *, held: int, what: str) -> list[int]:
    distinct = sorted(int(month) for month in months.unique())
    if len(distinct) <= held:
        raise DataValidationError(
            f"the training set spans {len(distinct)} months; {what} {held} leaves none to train on"
        )
    return distinct


def _split(frame: pd.DataFrame, months: pd.Series, *, before: int, held: list[int]) -> TimeSplit:
    return TimeSplit(
        train=frame.loc[(months < before).to_numpy()],
        holdout=frame.loc[months.isin(held).to_numpy()],
        holdout_months=tuple(f"{month // 100:04d}-{month % 100:02d}" for month in held),
    )


def split_by_month(frame: pd.DataFrame, *, holdout_months: int) -> TimeSplit:
    """Hold out the last ``holdout_months`` snapshot months; train on every earlier month."""
    if holdout_months < 1:
        raise InvalidRequest(f"holdout_months must be at least 1, got {holdout_months}")
    months = _months(frame)
    held = _distinct_months(months, held=holdout_months, what="holding out")[-holdout_months:]
    return _split(frame, months, before=held[0], held=held)


def expanding_window_splits(frame: pd.DataFrame, *, folds: int) -> list[TimeSplit]:
    """Rolling-origin folds, oldest first: for each of the last ``folds`` months, train on every earlier month."""
    if folds < 1:
        raise InvalidRequest(f"folds must be at least 1, got {folds}")
    months = _months(frame)
    validated = _distinct_months(months, held=folds, what="validating")[-folds:]
    return [_split(frame, months, before=month, held=[month]) for month in validated]
