"""Pandera schemas for every DataFrame the features package hands over, and their error translation.

- raw tables at ingest (:func:`raw_table_schema`), validated by the dataset generator;
- the point-in-time training set of a feature service (:func:`training_set_schema`);
- inference input, a frame of feature vectors in service order (:func:`feature_frame_schema`), and
  the same with the entity key as a column, as batch scoring receives it (:func:`population_chunk_schema`);
  online requests check inline rows and tensors with the same rules in numpy (:func:`inference_check`),
  and batch chunks are checked the same way, pandera running only on a chunk that fails
  (:func:`population_chunk_check`).

Schemas are derived from :mod:`features.definitions` specs and cached. :func:`validate_frame`
turns pandera's ``SchemaErrors`` into :class:`warehouse.errors.DataValidationError` naming the
column, the rule and a few offending rows, in its message and as data (:class:`RuleFailure`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from features.definitions import PopulationSpec, population_spec, service_spec
from features.definitions.specs import FeatureSpec
from warehouse.errors import ConfigurationError, DataValidationError

TIMESTAMP_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")
TIMESTAMP_COLUMN = "event_timestamp"
MAX_FAILED_RULES = 5
EXAMPLES_PER_RULE = 3
MAX_REPORTED_FAILURES = 20
"""At most this many failed rules travel in an error's ``failures``; the message names the first five."""


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


@dataclass(frozen=True)
class RuleFailure:
    """One failed rule of one column: how many cases, and a few offending rows (row, value).

    ``column`` is ``None`` for a frame-wide rule (``unique``); a missing or unknown column is named
    in ``column`` with the rule ``column_in_dataframe`` or ``column_in_schema`` and no examples.
    Rule names are pandera's (``greater_than_or_equal_to(0)``, ``not_nullable``, ``dtype('float64')``),
    whether pandera or the inference check found the failure.
    """

    column: str | None
    rule: str
    count: int
    examples: tuple[tuple[int | str | None, object], ...] = ()

    def describe(self) -> str:
        """The failure in words, e.g. ``column 'floors' failed greater_than_or_equal_to(1) in 2 case(s), e.g. ...``."""
        where = "the frame" if self.column is None else f"column {self.column!r}"
        if not self.examples:
            return f"{where} failed {self.rule}"
        examples = ", ".join(repr(value) if row is None else f"row {row}: {value!r}" for row, value in self.examples)
        return f"{where} failed {self.rule} in {self.count} case(s), e.g. {examples}"

    def to_dict(self) -> dict[str, object]:
        """The JSON form served in a 422 body; non-finite numbers are written as ``"NaN"``, ``"Infinity"``."""
        return {
            "column": self.column,
            "rule": self.rule,
            "count": self.count,
            "examples": [{"row": _json_scalar(row), "value": _json_scalar(value)} for row, value in self.examples],
        }


def _json_scalar(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def validation_error(subject: str, failures: Sequence[RuleFailure]) -> DataValidationError:
    """The :class:`DataValidationError` of ``failures``, most frequent first, in words and as data."""
    ordered = sorted(failures, key=lambda failure: failure.count, reverse=True)
    clauses = [failure.describe() for failure in ordered[:MAX_FAILED_RULES]]
    if len(ordered) > MAX_FAILED_RULES:
        clauses.append(f"and {len(ordered) - MAX_FAILED_RULES} more failed rule(s)")
    return DataValidationError(
        f"{subject} failed validation: {'; '.join(clauses)}",
        failures=[failure.to_dict() for failure in ordered[:MAX_REPORTED_FAILURES]],
    )


def schema_failures(errors: SchemaErrors) -> list[RuleFailure]:
    """One :class:`RuleFailure` per failed (column, rule) pair of pandera's lazy validation."""
    cases = errors.failure_cases.astype({"schema_context": str, "column": object, "check": str})
    failures: list[RuleFailure] = []
    for (context, column, check), group in cases.groupby(
        ["schema_context", "column", "check"], dropna=False, sort=False
    ):
        if context == "DataFrameSchema" and check.startswith("column_in_"):
            failures.extend(RuleFailure(str(name), check, 1) for name in group["failure_case"])
            continue
        examples = tuple(
            (None if pd.isna(index) else index, value)
            for index, value in zip(
                group["index"].head(EXAMPLES_PER_RULE), group["failure_case"].head(EXAMPLES_PER_RULE), strict=True
            )
        )
        frame_wide = pd.isna(column) or (context == "DataFrameSchema" and column == errors.schema.name)
        failures.append(RuleFailure(None if frame_wide else str(column), check, len(group), examples))
    return failures


def describe_schema_errors(errors: SchemaErrors) -> str:
    """One clause per failed (column, rule) pair with a few offending rows, most frequent first."""
    return validation_error("the frame", schema_failures(errors)).message.removeprefix("the frame failed validation: ")


_BOUNDS = {"greater_than_or_equal_to": "min_value", "less_than_or_equal_to": "max_value"}


@dataclass(frozen=True, eq=False)
class InferenceCheck:
    """A feature service's inference schema (:func:`feature_frame_schema`) as numpy arrays in one feature order.

    Online requests are checked with it instead of pandera, without building a DataFrame: the same
    rules (every column present and no other, numbers only, ``not_nullable``, the ``ge``/``le``
    bounds), answered as the same :class:`RuleFailure` s pandera's failures become. Built by
    :func:`inference_check`; ``check`` costs three vectorised comparisons when the input is valid.
    """

    subject: str
    names: tuple[str, ...]
    required: npt.NDArray[np.bool_]
    minimum: npt.NDArray[np.float64]
    maximum: npt.NDArray[np.float64]
    minimum_rules: tuple[str, ...]
    maximum_rules: tuple[str, ...]

    def matrix(self, rows: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float64]:
        """The float64 matrix of inline rows (name -> number, ``None`` = missing) in this order, checked.

        Raises :class:`DataValidationError` naming every missing or unknown column, non-numeric value
        and broken value rule, with the offending rows (their position in ``rows``).
        """
        names, known = self.names, frozenset(self.names)
        failures: dict[tuple[str, str], list[tuple[int | str | None, object]]] = {}
        for position, row in enumerate(rows):
            if len(row) != len(names) or not known.issuperset(row):
                for name in names:
                    if name not in row:
                        failures.setdefault((name, "column_in_dataframe"), []).append((position, None))
                for name in row.keys() - known:
                    failures.setdefault((name, "column_in_schema"), []).append((position, row[name]))
        if not _NUMBER_TYPES.issuperset(map(type, chain.from_iterable(row.values() for row in rows))):
            for position, row in enumerate(rows):
                for name, value in row.items():
                    if value is not None and (isinstance(value, bool) or not isinstance(value, float | int)):
                        failures.setdefault((name, NUMBER_RULE), []).append((position, value))
        if failures:
            raise validation_error(
                self.subject,
                [
                    RuleFailure(name, rule, len(cases), tuple(cases[:EXAMPLES_PER_RULE]))
                    for (name, rule), cases in failures.items()
                ],
            )
        nan = math.nan
        values = [[nan if (value := row[name]) is None else value for name in names] for row in rows]
        matrix = np.array(values, dtype=np.float64).reshape(len(rows), len(names))
        self.check(matrix)
        return matrix

    def passes(self, matrix: npt.NDArray[np.floating]) -> bool:
        """Whether a model-order matrix (NaN = missing) keeps every value rule (no failures built)."""
        missing, below, above = self._masks(matrix)
        return not (missing.any() or below.any() or above.any())

    def _masks(
        self, matrix: npt.NDArray[np.floating]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        missing = np.isnan(matrix) & self.required
        below = matrix < self.minimum  # NaN compares False: missing values are the nullable rule's business
        above = matrix > self.maximum
        return missing, below, above

    def check(self, matrix: npt.NDArray[np.floating]) -> None:
        """Check a model-order matrix (NaN = missing) against the value rules; raise if any fails."""
        missing, below, above = self._masks(matrix)
        if not (missing.any() or below.any() or above.any()):
            return
        failures: list[RuleFailure] = []
        not_nullable = ("not_nullable",) * len(self.names)
        for mask, rules in ((missing, not_nullable), (below, self.minimum_rules), (above, self.maximum_rules)):
            for column in np.flatnonzero(mask.any(axis=0)):
                rows = np.flatnonzero(mask[:, column])
                examples = tuple(
                    (int(row), None if rules is not_nullable else float(matrix[row, column]))
                    for row in rows[:EXAMPLES_PER_RULE]
                )
                failures.append(RuleFailure(self.names[column], rules[column], len(rows), examples))
        raise validation_error(self.subject, failures)


_NUMBER_TYPES = frozenset({float, int, type(None)})
"""Value types that need no closer look (one set test per request); others are checked one by one."""
NUMBER_RULE = "dtype('float64')"
"""The rule a non-numeric inference value breaks, named as pandera names a failed float64 dtype."""


@lru_cache(maxsize=64)
def inference_check(feature_service: str, feature_names: tuple[str, ...]) -> InferenceCheck:
    """The :class:`InferenceCheck` of a feature service's inference schema over ``feature_names``' order.

    Derived from :func:`feature_frame_schema` itself, so the two cannot drift apart; a name the
    schema does not hold is checked only for being a number.
    """
    return _inference_check_of(feature_frame_schema(feature_service), feature_service, feature_names)


def _inference_check_of(
    schema: pa.DataFrameSchema, feature_service: str, feature_names: tuple[str, ...]
) -> InferenceCheck:
    count = len(feature_names)
    required = np.zeros(count, dtype=bool)
    bounds = {"min_value": np.full(count, -np.inf), "max_value": np.full(count, np.inf)}
    rules: dict[str, list[str]] = {"min_value": [""] * count, "max_value": [""] * count}
    for position, name in enumerate(feature_names):
        column = schema.columns.get(name)
        if column is None:
            continue
        required[position] = not column.nullable
        for check in column.checks:
            statistic = _BOUNDS.get(check.name)
            if statistic is None:
                raise ConfigurationError(f"inference check of {feature_service!r}: unsupported rule {check.error}")
            bounds[statistic][position] = float(check.statistics[statistic])
            rules[statistic][position] = str(check.error)
    return InferenceCheck(
        subject=str(schema.name),
        names=feature_names,
        required=required,
        minimum=bounds["min_value"],
        maximum=bounds["max_value"],
        minimum_rules=tuple(rules["min_value"]),
        maximum_rules=tuple(rules["max_value"]),
    )


@dataclass(frozen=True, eq=False)
class PopulationChunkCheck:
    """A feature service's batch chunk schema (:func:`population_chunk_schema`) as vectorised checks.

    The batch executor checks every chunk of a population; pandera costs more per chunk than
    scoring it. :meth:`validate` answers a valid chunk with a few whole-column tests (the exact
    columns in order, a string key with no missing or repeated value, float64 features, then the
    value rules of :class:`InferenceCheck`), and hands any other chunk to pandera, so a bad chunk
    fails with the very :class:`DataValidationError` pandera's failures become. Built by
    :func:`population_chunk_check` from the schema itself, refusing a rule it does not model.
    """

    schema: pa.DataFrameSchema
    key: str
    columns: tuple[str, ...]
    features: InferenceCheck

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` when it keeps every rule; else raise pandera's :class:`DataValidationError`."""
        if self.passes(frame):
            return frame
        return validate_frame(self.schema, frame)

    def passes(self, frame: pd.DataFrame) -> bool:
        """Whether ``frame`` keeps every rule of the schema (nothing is built to say why not)."""
        if tuple(frame.columns) != self.columns:
            return False
        key = frame[self.key]
        # ``infer_dtype`` without skipping NaN says "string" only when every value is a str.
        if key.dtype != object or pd.api.types.infer_dtype(key, skipna=False) != "string" or not key.is_unique:
            return False
        features = frame[list(self.features.names)]
        if not (features.dtypes == np.float64).all():
            return False
        return self.features.passes(features.to_numpy())


@lru_cache(maxsize=16)
def population_chunk_check(feature_service: str) -> PopulationChunkCheck:
    """The :class:`PopulationChunkCheck` of :func:`population_chunk_schema` (derived from it, cached)."""
    schema = population_chunk_schema(feature_service)
    key, *names = schema.columns
    key_column = schema.columns[key]
    plain_key = not key_column.checks and key_column.unique and not key_column.nullable
    plain_key = plain_key and not any(schema.columns[name].unique for name in names)
    if not (schema.strict is True and schema.ordered and not schema.checks and not schema.unique and plain_key):
        raise ConfigurationError(f"chunk check of {feature_service!r}: the schema has rules it does not model")
    if str(key_column.dtype) != "str" or any(str(schema.columns[name].dtype) != "float64" for name in names):
        raise ConfigurationError(f"chunk check of {feature_service!r}: unexpected column types")
    return PopulationChunkCheck(
        schema=schema,
        key=key,
        columns=(key, *names),
        features=_inference_check_of(schema, feature_service, tuple(names)),
    )


def validate_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily; every failure is reported together as one :class:`DataValidationError`."""
    # pandera cannot report failures of a frame-wide rule (``unique``) on a duplicated index.
    checked = frame if frame.index.is_unique else frame.reset_index(drop=True)
    try:
        schema.validate(checked, lazy=True)
        return frame
    except SchemaErrors as errors:
        raise validation_error(str(schema.name), schema_failures(errors)) from errors
