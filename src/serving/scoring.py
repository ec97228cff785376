"""Feature-aware scoring, shared by every route and engine.

Entity ids are looked up in the online feature store, inline rows are taken as given; both go
through the same model runtime and grading. Unknown entities are answered one by one with an
``entity_not_found`` error instead of failing the whole request. No HTTP here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from serving.metrics import ServingMetrics
from serving.schemas import EntityScore, ErrorDetail, Reason, ScoreResponse
from warehouse.errors import EntityNotFound, InvalidRequest

if TYPE_CHECKING:
    from feast import FeatureStore

    from algorithms.base import Algorithm
    from serving.repository import ModelRepository
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)


class ScoringService:
    """Scores entities or inline rows with the model an alias points at."""

    def __init__(
        self, settings: Settings, repository: ModelRepository, *, metrics: ServingMetrics | None = None
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.metrics = metrics or ServingMetrics()
        self._feature_store: FeatureStore | None = None
        self._store_lock = threading.Lock()

    def feature_store(self) -> FeatureStore:
        """The online feature store, opened once per process."""
        with self._store_lock:
            if self._feature_store is None:
                from features.store import open_feature_store

                self._feature_store = open_feature_store(self.settings)
            return self._feature_store

    def score_entities(
        self, algorithm: Algorithm, entity_ids: Sequence[str], *, alias: str, explain: bool = False
    ) -> ScoreResponse:
        """Look up each entity's online features and score the ones found."""
        self._check_size(len(entity_ids))
        from features.online import read_online_vectors

        model = self.repository.get(algorithm.name, alias)
        with self.metrics.time_feature_lookup(model.metadata.feature_service):
            online = read_online_vectors(
                self.feature_store(),
                feature_service=model.metadata.feature_service,
                entity_key=model.metadata.entity,
                entity_ids=entity_ids,
            )
        matrix = _in_model_order(model, online.values, online.feature_names)
        with self.metrics.time_inference(model.metadata.model_name, model.version):
            by_id = _score_matrix(model, matrix, entity_ids=online.entity_ids, explain=explain)
        missing = EntityNotFound("no online features for this entity")
        results = [
            by_id.get(entity_id)
            or EntityScore(
                entity_id=entity_id,
                score=None,
                level=None,
                warning=None,
                error=ErrorDetail(code=missing.code, message=missing.message),
            )
            for entity_id in entity_ids
        ]
        return _response(algorithm, model, alias, results)

    def score_features(
        self, algorithm: Algorithm, rows: Sequence[Mapping[str, object]], *, alias: str, explain: bool = False
    ) -> ScoreResponse:
        """Score inline feature rows (what-if analysis), checked against the service's inference schema.

        Every model feature must be present, a number or null, and within its rules; otherwise
        :class:`DataValidationError` (422) names each column, rule and offending row position.
        """
        self._check_size(len(rows))
        model = self.repository.get(algorithm.name, alias)
        matrix = _checked_rows(model, rows)
        with self.metrics.time_inference(model.metadata.model_name, model.version):
            scored = _score_matrix(model, matrix, entity_ids=[None] * len(rows), explain=explain)
        return _response(algorithm, model, alias, list(scored.values()))

    def _check_size(self, count: int) -> None:
        limit = self.settings.max_entities_per_request
        if count > limit:
            raise InvalidRequest(f"{count} rows in one request; the limit is {limit}")


def _checked_rows(model: OnnxModel, rows: Sequence[Mapping[str, object]]) -> npt.NDArray[np.float32]:
    """The float32 model input of inline rows, validated by the feature service's inference check."""
    from features.schemas import inference_check

    check = inference_check(model.metadata.feature_service, tuple(model.metadata.feature_names))
    return check.matrix(rows).astype(np.float32)


def _in_model_order(model: OnnxModel, values: np.ndarray, names: list[str]) -> npt.NDArray[np.float32]:
    """The float32 model input from a matrix whose columns are ``names`` (the feature service's order)."""
    expected = model.metadata.feature_names
    if names == expected:
        return values.astype(np.float32)
    position = {name: column for column, name in enumerate(names)}
    missing = [name for name in expected if name not in position]
    if missing:
        raise InvalidRequest(f"missing features: {', '.join(missing)}")
    return values[:, [position[name] for name in expected]].astype(np.float32)


def _reasons(model: OnnxModel, matrix: npt.NDArray[np.float32]) -> list[list[Reason]]:
    """Top reasons of every row, from the model's explainer and the feature descriptions of its service."""
    from algorithms.reasons import top_reasons
    from features.definitions import service_spec

    descriptions = {spec.name: spec.description for spec in service_spec(model.metadata.feature_service).features}
    rows = top_reasons(model.contributions_matrix(matrix), matrix, model.metadata.feature_names, descriptions)
    return [[Reason(**vars(code)) for code in codes] for codes in rows]


def _score_matrix(
    model: OnnxModel, matrix: npt.NDArray[np.float32], *, entity_ids: Sequence[str | None], explain: bool = False
) -> dict[object, EntityScore]:
    """Score a model-order matrix; the result maps entity id (or row position for inline rows) to its answer."""
    if matrix.shape[0] == 0:
        return {}
    scores = model.score_matrix(matrix)
    reasons = _reasons(model, matrix) if explain else None
    grading = model.metadata.grading
    points = grading.score_scale.points(scores.probabilities) if grading.score_scale else None
    probabilities = scores.probabilities.tolist()
    levels = scores.grades.levels.tolist()
    warnings = scores.grades.warnings.tolist()
    answers: dict[object, EntityScore] = {}
    for position, entity_id in enumerate(entity_ids):
        level = levels[position]
        answers[entity_id if entity_id is not None else position] = EntityScore(
            entity_id=entity_id,
            score=probabilities[position],
            level=level,
            warning=warnings[position],
            credit_score=None if points is None else round(float(points[position]), 1),
            inspection_frequency=grading.inspection_frequency.get(level),
            reasons=None if reasons is None else reasons[position],
        )
    return answers


def _response(algorithm: Algorithm, model: OnnxModel, alias: str, results: list[EntityScore]) -> ScoreResponse:
    return ScoreResponse(
        algorithm=algorithm.name,
        model_name=model.metadata.model_name,
        model_version=model.version,
        alias=alias,
        results=results,
    )
