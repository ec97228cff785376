"""Typed FastAPI dependencies: a route declares what it needs by its parameter types.

Each is ``async`` so that FastAPI reads it off ``app.state`` on the event loop rather than in the
thread pool (see :mod:`warehouse.app_state`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from registry.classification import ServedClassifications
from serving.metrics import ServingMetrics
from serving.repository import ModelRepository
from serving.scoring import ScoringService
from warehouse.app_state import SettingsDep

__all__ = ["ClassificationsDep", "MetricsDep", "RepositoryDep", "ScoringDep", "SettingsDep"]


async def get_repository(request: Request) -> ModelRepository:
    """The app's model repository."""
    repository: ModelRepository = request.app.state.repository
    return repository


async def get_scoring(request: Request) -> ScoringService:
    """The app's scoring service."""
    scoring: ScoringService = request.app.state.scoring
    return scoring


async def get_classifications(request: Request) -> ServedClassifications:
    """The app's cache of the classification levels of served versions."""
    classifications: ServedClassifications = request.app.state.classifications
    return classifications


async def get_metrics(request: Request) -> ServingMetrics:
    """The app's Prometheus metrics."""
    metrics: ServingMetrics = request.app.state.metrics
    return metrics


RepositoryDep = Annotated[ModelRepository, Depends(get_repository)]
ScoringDep = Annotated[ScoringService, Depends(get_scoring)]
ClassificationsDep = Annotated[ServedClassifications, Depends(get_classifications)]
MetricsDep = Annotated[ServingMetrics, Depends(get_metrics)]
