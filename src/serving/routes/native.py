"""The native scoring API: ``POST /v1/score/{algorithm}``.

Needs the ``score`` permission; the caller must also be granted the algorithm's model (role
``app``) and cleared for the classification of the version the alias resolves to. Under a canary or
shadow rollout the challenger takes part only for callers cleared for its version too; for others
the champion answers everything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from registry.classification import ServedClassifications
from serving.dependencies import ClassificationsDep, ScoringDep
from serving.schemas import ScoreRequest, ScoreResponse
from serving.scoring import ScoringService
from warehouse.auth import require, require_clearance, require_grant
from warehouse.identity import Caller
from warehouse.permissions import Permission
from warehouse.security import clears

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post("/score/{algorithm}", response_model=ScoreResponse)
async def score(
    algorithm: str,
    body: ScoreRequest,
    scoring: ScoringDep,
    classifications: ClassificationsDep,
    caller: Annotated[Caller, Depends(require(Permission.SCORE))],
) -> ScoreResponse:
    """Score entities by id (online features) or inline feature rows with an algorithm's model."""
    # One trip to the thread pool for all the blocking work (a feature lookup, a level read on a
    # cache miss, ONNX Runtime); a plain ``def`` route would take a second one to validate the answer.
    return await run_in_threadpool(_score, algorithm, body, scoring, classifications, caller)


def _score(
    algorithm: str, body: ScoreRequest, scoring: ScoringService, classifications: ServedClassifications, caller: Caller
) -> ScoreResponse:
    from algorithms.catalogue import get_algorithm

    algo = get_algorithm(algorithm)
    require_grant(caller, algo.name)
    plan = scoring.plan(algo.name, body.alias)
    require_clearance(caller, algo.name, classifications.of(plan.model_name, plan.champion.version))
    if plan.challenger is not None and not clears(
        caller.clearance, classifications.of(plan.model_name, plan.challenger.version)
    ):
        plan = plan.without_challenger()
    if body.entities is not None:
        return scoring.score_entities(
            algo, body.entities, plan=plan, explain=body.explain, include_features=body.include_features
        )
    assert body.features is not None  # guaranteed by ScoreRequest's validator
    return scoring.score_features(
        algo, body.features, alias=body.alias, explain=body.explain, include_features=body.include_features
    )
