"""Pandera schemas for every DataFrame the features package hands over, and their error translation.

- raw tables at ingest (:func:`raw_table_schema`), validated by the dataset generator;
- the point-in-time training set of a feature service (:func:`training_set_schema`);
- inference input, a frame of feature vectors in service order (:func:`feature_frame_schema`), and
  the same with the entity key as a column, as batch scoring receives it (:func:`population_chunk_schema`).

Schemas are derived from :mod:`features.definitions` specs and cached. :func:`validate_frame`
turns pandera's ``SchemaErrors`` into :class:`warehouse.errors.DataValidationError` naming the
column, the rule and a few offending rows.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from features.definitions import PopulationSpec, population_spec, service_spec
from features.definitions.specs import FeatureSpec
from warehouse.errors import DataValidationError

TIMESTAMP_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")
TIMESTAMP_COLUMN = "event_timestamp"
MAX_FAILED_RULES = 5
EXAMPLES_PER_RULE = 3


def _feature_column(feature: FeatureSpec, dtype: str) -> pa.Column:
    checks = []
    if feature.minimum is not None:
        checks.append(pa.Check.ge(feature.minimum))
    if feature.maximum is not None:
        checks.append(pa.Check.le(feature.maximum))
    return pa.Column(dtype, checks=checks, nullable=feature.nullable)


def _stored_dtype(feature: FeatureSpec) -> str:
    return "int64" if feature.kind == "int" else "float64"


def _key_columns(population: PopulationSpec) -> dict[str, pa.Column]:
    return {
        population.entity_key: pa.Column(str, pa.Check.str_matches(population.entity_id_pattern)),
        TIMESTAMP_COLUMN: pa.Column(TIMESTAMP_DTYPE),
    }


def _keyed_schema(population: PopulationSpec, columns: dict[str, pa.Column], name: str) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {**_key_columns(population), **columns},
        strict=True,
        ordered=True,
        unique=[population.entity_key, TIMESTAMP_COLUMN],
        name=name,
    )


@lru_cache(maxsize=64)
def raw_table_schema(population: str, table: str) -> pa.DataFrameSchema:
    """Schema of one generated or ingested parquet table (a feature view's table or the labels)."""
    spec = population_spec(population)
    if table == spec.label_table:
        label = pa.Column("int64", pa.Check.isin([0, 1]))
        return _keyed_schema(spec, {spec.label: label}, f"{population}.{table}")
    views = {view.table: view for view in spec.views}
    if table not in views:
        raise KeyError(f"population {population!r} has no table {table!r}")
    columns = {feature.name: _feature_column(feature, _stored_dtype(feature)) for feature in views[table].features}
    return _keyed_schema(spec, columns, f"{population}.{table}")


@lru_cache(maxsize=16)
def training_set_schema(feature_service: str) -> pa.DataFrameSchema:
    """Schema of a training set: key, timestamp, features (float64, service order), label."""
    service = service_spec(feature_service)
    columns = {feature.name: _feature_column(feature, "float64") for feature in service.features}
    columns[service.label] = pa.Column("int64", pa.Check.isin([0, 1]))
    return _keyed_schema(service.population, columns, f"{feature_service} training set")


@lru_cache(maxsize=16)
def feature_frame_schema(feature_service: str) -> pa.DataFrameSchema:
    """Schema of inference input: exactly the service's features, float64, in service order."""
    service = service_spec(feature_service)
    columns = {feature.name: _feature_column(feature, "float64") for feature in service.features}
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name=f"{feature_service} features")


@lru_cache(maxsize=16)
def population_chunk_schema(feature_service: str) -> pa.DataFrameSchema:
    """Schema of a batch-scoring chunk: the entity key column, then the features as for inference."""
    service = service_spec(feature_service)
    key = pa.Column(str, unique=True)
    columns = {feature.name: _feature_column(feature, "float64") for feature in service.features}
    return pa.DataFrameSchema(
        {service.entity_key: key, **columns}, strict=True, ordered=True, name=f"{feature_service} population chunk"
    )


def _describe_rule(context: object, column: object, check: object, cases: pd.DataFrame) -> str:
    examples = ", ".join(
        repr(value) if pd.isna(index) else f"row {index}: {value!r}"
        for index, value in zip(
            cases["index"].head(EXAMPLES_PER_RULE), cases["failure_case"].head(EXAMPLES_PER_RULE), strict=True
        )
    )
    frame_wide = context == "DataFrameSchema" and str(check).startswith("column_in_")
    where = "the frame" if frame_wide else f"column {column!r}"
    return f"{where} failed {check} in {len(cases)} case(s), e.g. {examples}"


def describe_schema_errors(errors: SchemaErrors) -> str:
    """One clause per failed (column, rule) pair with a few offending rows, most frequent first."""
    cases = errors.failure_cases.astype({"schema_context": str, "column": object, "check": str})
    groups = sorted(
        cases.groupby(["schema_context", "column", "check"], dropna=False, sort=False),
        key=lambda item: len(item[1]),
        reverse=True,
    )
    clauses = [
        _describe_rule(context, column, check, group) for (context, column, check), group in groups[:MAX_FAILED_RULES]
    ]
    if len(groups) > MAX_FAILED_RULES:
        clauses.append(f"and {len(groups) - MAX_FAILED_RULES} more failed rule(s)")
    return "; ".join(clauses)


def validate_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily; every failure is reported together as one :class:`DataValidationError`."""
    # pandera cannot report failures of a frame-wide rule (``unique``) on a duplicated index.
    checked = frame if frame.index.is_unique else frame.reset_index(drop=True)
    try:
        schema.validate(checked, lazy=True)
        return frame
    except SchemaErrors as errors:
        raise DataValidationError(f"{schema.name} failed validation: {describe_schema_errors(errors)}") from errors
