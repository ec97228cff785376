"""Time-based train / hold-out split of monthly snapshot data.

The hold-out is the last ``holdout_months`` calendar months (UTC) present in the frame, so the
model is judged on months after everything it was fitted on, as it will be used. A random split
would leak each building's future snapshots into training.
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


def split_by_month(frame: pd.DataFrame, *, holdout_months: int) -> TimeSplit:
    """Hold out the last ``holdout_months`` snapshot months; train on every earlier month."""
    if holdout_months < 1:
        raise InvalidRequest(f"holdout_months must be at least 1, got {holdout_months}")
    timestamps = frame[TIMESTAMP_COLUMN].dt.tz_convert("UTC")
    months = timestamps.dt.year * 100 + timestamps.dt.month
    distinct = sorted(int(month) for month in months.unique())
    if len(distinct) <= holdout_months:
        raise DataValidationError(
            f"the training set spans {len(distinct)} months; holding out {holdout_months} leaves none to train on"
        )
    held = distinct[-holdout_months:]
    in_holdout = months.isin(held).to_numpy()
    return TimeSplit(
        train=frame.loc[~in_holdout],
        holdout=frame.loc[in_holdout],
        holdout_months=tuple(f"{month // 100:04d}-{month % 100:02d}" for month in held),
    )
