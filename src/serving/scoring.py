"""Feature-aware scoring, shared by every route and engine.

Entity ids are looked up in the online feature store, inline rows are taken as given; both go
through the same model runtime and grading. Unknown entities are answered one by one with an
``entity_not_found`` error instead of failing the whole request. No HTTP here.

Canary and shadow rollouts (:mod:`registry.rollout`) apply to entity requests for the default alias
(``champion``): :meth:`ScoringService.plan` says which models a request may use. Under a canary each
entity is answered by the arm its hash picks (:mod:`serving.canary`) and says which version and
alias answered it; in shadow mode the champion answers and the challenger scores the same feature
rows in :class:`serving.comparison.ComparisonLog`'s worker. Inline rows (what-if) and requests that
name an alias or a version are answered by that alias or version alone.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from registry.rollout import CHALLENGER_ALIAS, RolloutMode
from serving.canary import TrafficPlan
from serving.comparison import ComparisonLog, ComparisonRow
from serving.metrics import ServingMetrics
from serving.repository import DEFAULT_ALIAS
from serving.schemas import EntityScore, ErrorDetail, Reason, ScoreResponse
from warehouse.errors import EntityNotFound, InvalidRequest, ModelNotApproved, ModelNotFound, ModelNotReady

if TYPE_CHECKING:
    from feast import FeatureStore

    from algorithms.base import Algorithm
    from features.online import OnlineVectors
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
        self.comparisons = ComparisonLog(settings, self.metrics)
        """Where canary and shadow answers go (written by its own worker thread)."""
        self._feature_store: FeatureStore | None = None
        self._store_lock = threading.Lock()

    def feature_store(self) -> FeatureStore:
        """The online feature store, opened once per process."""
        with self._store_lock:
            if self._feature_store is None:
                from features.store import open_feature_store

                self._feature_store = open_feature_store(self.settings)
            return self._feature_store

    def plan(self, algorithm_name: str, alias: str) -> TrafficPlan:
        """The models a request for ``alias`` may use: the challenger too under a rollout of the default alias."""
        champion = self.repository.get(algorithm_name, alias)
        plain = TrafficPlan(alias=alias, champion=champion)
        if alias != DEFAULT_ALIAS:
            return plain
        rollout = self.repository.rollout(champion.metadata.model_name)
        if rollout.mode == RolloutMode.OFF:
            return plain
        try:
            challenger = self.repository.get(algorithm_name, CHALLENGER_ALIAS)
        except (ModelNotFound, ModelNotApproved, ModelNotReady) as exc:
            logger.warning(
                "%s rollout of %s: no servable challenger (%s); champion only", rollout.mode, algorithm_name, exc
            )
            return plain
        if challenger.version == champion.version:
            return plain
        return TrafficPlan(
            alias=alias, champion=champion, mode=rollout.mode, challenger=challenger,
            canary_share=rollout.canary_share or 0.0,
        )  # fmt: skip

    def score_entities(
        self,
        algorithm: Algorithm,
        entity_ids: Sequence[str],
        *,
        plan: TrafficPlan,
        explain: bool = False,
        include_features: bool = False,
    ) -> ScoreResponse:
        """Look up each entity's online features and score the ones found, as ``plan`` routes them."""
        self._check_size(len(entity_ids))
        shown = _Shown(explain=explain, features=include_features)
        if plan.mode == RolloutMode.CANARY and plan.challenger is not None:
            by_id = self._score_canary(plan, plan.challenger, entity_ids, shown=shown)
        else:
            online, by_id = self._lookup_and_score(plan.champion, entity_ids, shown=shown)
            if plan.mode == RolloutMode.SHADOW and plan.challenger is not None and by_id:
                self._shadow(plan, plan.challenger, online, by_id)
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
        response = _response(algorithm, plan.champion, plan.alias, results)
        if plan.mode != RolloutMode.OFF:
            response.rollout = plan.mode
        return response

    def _lookup_and_score(
        self, model: OnnxModel, entity_ids: Sequence[str], *, shown: _Shown
    ) -> tuple[OnlineVectors, dict[object, EntityScore]]:
        from features.online import read_online_vectors

        with self.metrics.time_feature_lookup(model.metadata.feature_service):
            online = read_online_vectors(
                self.feature_store(),
                feature_service=model.metadata.feature_service,
                entity_key=model.metadata.entity,
                entity_ids=entity_ids,
            )
        matrix = _in_model_order(model, online.values, online.feature_names)
        with self.metrics.time_inference(model.metadata.model_name, model.version):
            return online, _score_matrix(model, matrix, entity_ids=online.entity_ids, shown=shown)

    def _score_canary(
        self, plan: TrafficPlan, challenger: OnnxModel, entity_ids: Sequence[str], *, shown: _Shown
    ) -> dict[object, EntityScore]:
        """Each entity answered by its arm, tagged with the version and alias that answered it; both logged."""
        to_challenger = [entity_id for entity_id in entity_ids if plan.goes_to_challenger(entity_id)]
        chosen = set(to_challenger)
        arms = (
            (DEFAULT_ALIAS, plan.champion, [entity_id for entity_id in entity_ids if entity_id not in chosen]),
            (CHALLENGER_ALIAS, challenger, to_challenger),
        )
        answers: dict[object, EntityScore] = {}
        rows: list[ComparisonRow] = []
        for arm, model, ids in arms:
            if not ids:
                continue
            _, scored = self._lookup_and_score(model, ids, shown=shown)
            for key, answer in scored.items():
                answers[key] = answer.model_copy(update={"model_version": model.version, "alias": arm})
                rows.append(_canary_row(plan, challenger, arm, answer))
        if rows:
            self.comparisons.submit(model_name=plan.model_name, mode=RolloutMode.CANARY, job=lambda: rows)
        return answers

    def _shadow(
        self, plan: TrafficPlan, challenger: OnnxModel, online: OnlineVectors, answers: dict[object, EntityScore]
    ) -> None:
        """Hand the champion's answers and the feature rows to the log's worker, which scores the challenger."""
        champion_version = plan.champion.version

        def compare() -> list[ComparisonRow]:
            matrix = _in_model_order(challenger, online.values, online.feature_names)
            scores = challenger.score_matrix(matrix)
            rows = []
            for position, entity_id in enumerate(online.entity_ids):
                answer = answers[entity_id]
                rows.append(
                    ComparisonRow(
                        model_name=plan.model_name,
                        entity_id=entity_id,
                        mode=RolloutMode.SHADOW,
                        served_by=DEFAULT_ALIAS,
                        champion_version=champion_version,
                        challenger_version=challenger.version,
                        champion_score=answer.score,
                        challenger_score=float(scores.probabilities[position]),
                        champion_level=answer.level,
                        challenger_level=str(scores.grades.levels[position]),
                    )
                )
            return rows

        self.comparisons.submit(model_name=plan.model_name, mode=RolloutMode.SHADOW, job=compare)

    def score_features(
        self,
        algorithm: Algorithm,
        rows: Sequence[Mapping[str, object]],
        *,
        alias: str,
        explain: bool = False,
        include_features: bool = False,
    ) -> ScoreResponse:
        """Score inline feature rows (what-if analysis), checked against the service's inference schema.

        Every model feature must be present, a number or null, and within its rules; otherwise
        :class:`DataValidationError` (422) names each column, rule and offending row position.
        """
        self._check_size(len(rows))
        model = self.repository.get(algorithm.name, alias)
        matrix = _checked_rows(model, rows)
        shown = _Shown(explain=explain, features=include_features)
        with self.metrics.time_inference(model.metadata.model_name, model.version):
            scored = _score_matrix(model, matrix, entity_ids=[None] * len(rows), shown=shown)
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


@dataclass(frozen=True)
class _Shown:
    """The optional parts of an answer a request asked for."""

    explain: bool = False
    """Top reasons."""
    features: bool = False
    """The feature values scored."""


def _feature_values(model: OnnxModel, matrix: npt.NDArray[np.float32]) -> list[dict[str, float | None]]:
    """Each row's values by feature name, in model order; NaN (missing) as None.

    A float32 value is answered as the shortest decimal that reads back as the same float32, so a
    value stored as 0.3 comes back as 0.3 and a what-if row built from it scores the same.
    """
    names = model.metadata.feature_names
    return [
        {name: None if math.isnan(value) else float(str(value)) for name, value in zip(names, row, strict=True)}
        for row in matrix
    ]


def _score_matrix(
    model: OnnxModel, matrix: npt.NDArray[np.float32], *, entity_ids: Sequence[str | None], shown: _Shown
) -> dict[object, EntityScore]:
    """Score a model-order matrix; the result maps entity id (or row position for inline rows) to its answer."""
    if matrix.shape[0] == 0:
        return {}
    scores = model.score_matrix(matrix)
    reasons = _reasons(model, matrix) if shown.explain else None
    values = _feature_values(model, matrix) if shown.features else None
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
            features=None if values is None else values[position],
        )
    return answers


def _canary_row(plan: TrafficPlan, challenger: OnnxModel, arm: str, answer: EntityScore) -> ComparisonRow:
    """The log row of one canary answer: the arm that answered, both versions, that arm's score and level."""
    by_champion = arm == DEFAULT_ALIAS
    return ComparisonRow(
        model_name=plan.model_name, entity_id=answer.entity_id or "", mode=RolloutMode.CANARY, served_by=arm,
        champion_version=plan.champion.version, challenger_version=challenger.version,
        champion_score=answer.score if by_champion else None, challenger_score=None if by_champion else answer.score,
        champion_level=answer.level if by_champion else None, challenger_level=None if by_champion else answer.level,
    )  # fmt: skip


def _response(algorithm: Algorithm, model: OnnxModel, alias: str, results: list[EntityScore]) -> ScoreResponse:
    return ScoreResponse(
        algorithm=algorithm.name,
        model_name=model.metadata.model_name,
        model_version=model.version,
        alias=alias,
        results=results,
    )
