"""The native scoring API: ``POST /v1/score/{algorithm}``.

Needs the ``score`` permission; the caller must also be granted the algorithm's model (role
``app``) and cleared for the classification of the version the alias resolves to.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from serving.dependencies import ClassificationsDep, ScoringDep
from serving.schemas import ScoreRequest, ScoreResponse
from warehouse.auth import require, require_clearance, require_grant
from warehouse.identity import Caller
from warehouse.permissions import Permission

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post("/score/{algorithm}", response_model=ScoreResponse)
def score(
    algorithm: str,
    body: ScoreRequest,
    scoring: ScoringDep,
    classifications: ClassificationsDep,
    caller: Annotated[Caller, Depends(require(Permission.SCORE))],
) -> ScoreResponse:
    """Score entities by id (online features) or inline feature rows with an algorithm's model."""
    from algorithms.catalogue import get_algorithm

    algo = get_algorithm(algorithm)
    require_grant(caller, algo.name)
    model = scoring.repository.get(algo.name, body.alias)
    require_clearance(caller, algo.name, classifications.of(model.metadata.model_name, model.version))
    if body.entities is not None:
        return scoring.score_entities(algo, body.entities, alias=body.alias, explain=body.explain)
    assert body.features is not None  # guaranteed by ScoreRequest's validator
    return scoring.score_features(algo, body.features, alias=body.alias, explain=body.explain)
