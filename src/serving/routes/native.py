"""The native scoring API: ``POST /v1/score/{algorithm}``."""

from __future__ import annotations

from fastapi import APIRouter

from serving.dependencies import ScoringDep
from serving.schemas import ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post("/score/{algorithm}", response_model=ScoreResponse)
def score(algorithm: str, body: ScoreRequest, scoring: ScoringDep) -> ScoreResponse:
    """Score entities by id (online features) or inline feature rows with an algorithm's model."""
    from algorithms.catalogue import get_algorithm

    algo = get_algorithm(algorithm)
    if body.entities is not None:
        return scoring.score_entities(algo, body.entities, alias=body.alias, explain=body.explain)
    assert body.features is not None  # guaranteed by ScoreRequest's validator
    return scoring.score_features(algo, body.features, alias=body.alias, explain=body.explain)
