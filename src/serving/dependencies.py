"""Typed FastAPI dependencies: a route declares what it needs by its parameter types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from registry.classification import ServedClassifications
from serving.metrics import ServingMetrics
from serving.repository import ModelRepository
from serving.scoring import ScoringService
from warehouse.settings import Settings


def get_settings_from_app(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_repository(request: Request) -> ModelRepository:
    """The app's model repository."""
    repository: ModelRepository = request.app.state.repository
    return repository


def get_scoring(request: Request) -> ScoringService:
    """The app's scoring service."""
    scoring: ScoringService = request.app.state.scoring
    return scoring


def get_classifications(request: Request) -> ServedClassifications:
    """The app's cache of the classification levels of served versions."""
    classifications: ServedClassifications = request.app.state.classifications
    return classifications


def get_metrics(request: Request) -> ServingMetrics:
    """The app's Prometheus metrics."""
    metrics: ServingMetrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]
RepositoryDep = Annotated[ModelRepository, Depends(get_repository)]
ScoringDep = Annotated[ScoringService, Depends(get_scoring)]
ClassificationsDep = Annotated[ServedClassifications, Depends(get_classifications)]
MetricsDep = Annotated[ServingMetrics, Depends(get_metrics)]
