"""``GET /v1/models/{name}/compare``: agreement between champion and challenger, from the comparison log.

Needs ``models.read``; the caller must be granted the model (role ``app``) and cleared for its
classification. The figures are those of :func:`serving.comparison.compare_models`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from registry.classification import model_classification
from serving.comparison import ComparisonReport, compare_models
from serving.dependencies import SettingsDep
from warehouse.auth import require, require_model_access
from warehouse.identity import Caller
from warehouse.permissions import Permission

router = APIRouter(prefix="/v1", tags=["governance"])


@router.get("/models/{name}/compare", response_model=ComparisonReport)
def compare(
    name: str,
    settings: SettingsDep,
    caller: Annotated[Caller, Depends(require(Permission.MODELS_READ))],
    since: Annotated[dt.datetime | None, Query(description="Only answers logged at or after this time.")] = None,
) -> ComparisonReport:
    """Shadow agreement (levels, score differences, correlations) and canary per-arm answers."""
    require_model_access(caller, name, model_classification(settings, model_name=name))
    return compare_models(settings, name, since=since)
