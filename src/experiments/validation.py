"""Entry check of a training set: the pandera schema an algorithm's training frame must satisfy.

The schema is built from the algorithm (entity, label, task) because the feature columns differ
from one feature service to another. A failure becomes :class:`DataValidationError` listing every
problem found, not only the first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from algorithms.base import TIMESTAMP_COLUMN, Algorithm
from warehouse.errors import DataValidationError

if TYPE_CHECKING:
    import pandera.pandas as pa

MAX_REPORTED_FAILURES = 10


def training_set_schema(algorithm: Algorithm, feature_names: list[str]) -> pa.DataFrameSchema:
    """Keys present and non-null, unique per snapshot, UTC event times, a 0/1 label, no infinite feature."""
    import pandera.pandas as pa

    label_checks = [pa.Check.isin([0, 1])] if algorithm.task == "binary" else []
    return pa.DataFrameSchema(
        {
            algorithm.entity: pa.Column(nullable=False),
            TIMESTAMP_COLUMN: pa.Column(
                nullable=False,
                checks=pa.Check(_is_utc_datetime, element_wise=False, error="must be tz-aware UTC datetimes"),
            ),
            algorithm.label: pa.Column(nullable=False, checks=label_checks),
            **{
                name: pa.Column(nullable=True, checks=pa.Check(_not_infinite, error="infinite value"))
                for name in feature_names
            },
        },
        unique=[algorithm.entity, TIMESTAMP_COLUMN],
        report_duplicates="exclude_first",
    )


def validate_training_set(algorithm: Algorithm, frame: pd.DataFrame) -> list[str]:
    """Validate ``frame`` for ``algorithm``; return its feature columns in frame order."""
    import pandera.errors

    missing = [column for column in (algorithm.entity, TIMESTAMP_COLUMN, algorithm.label) if column not in frame]
    if missing:
        raise DataValidationError(f"the training set lacks the columns {missing}")
    if frame.empty:
        raise DataValidationError("the training set is empty")
    feature_names = algorithm.feature_columns(frame)
    try:
        training_set_schema(algorithm, feature_names).validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        failures = exc.failure_cases.head(MAX_REPORTED_FAILURES)
        summary = "; ".join(
            f"{row.column}: {row.check} (e.g. {row.failure_case!r})" for row in failures.itertuples(index=False)
        )
        raise DataValidationError(f"the training set failed validation: {summary}") from exc
    return feature_names


def require_both_classes(algorithm: Algorithm, frame: pd.DataFrame, *, part: str) -> None:
    """A binary model needs positives and negatives in ``frame`` (the training or the hold-out rows)."""
    positives = int(frame[algorithm.label].sum())
    if positives in (0, len(frame)):
        raise DataValidationError(
            f"the {part} rows hold {positives} positives in {len(frame)}; a binary model needs both classes there"
        )


def _is_utc_datetime(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


def _not_infinite(series: pd.Series) -> pd.Series:
    return pd.Series(~np.isinf(series.to_numpy(dtype=np.float64, na_value=np.nan)), index=series.index)
