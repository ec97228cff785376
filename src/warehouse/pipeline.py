"""The warehouse's end-to-end steps, composed from the packages below ``warehouse``.

The CLI, the demo and the test fixtures call these; each step is usable on its own and safe to run
again. Heavy packages are imported inside each step.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel

from warehouse.db import MetadataDB
from warehouse.progress import ProgressCallback, no_progress

if TYPE_CHECKING:
    import pandas as pd

    from algorithms.base import Algorithm
    from experiments.rolling import RollingReport
    from experiments.search import TrialExecutor
    from experiments.training import TrainingReport
    from features.datasets import DatasetManifest
    from features.store import MaterializeReport
    from registry.card import ModelCardUpdate
    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

CHAMPION = "champion"
DEFAULT_POPULATION_SIZES = {"buildings": 20_000, "market_entities": 20_000, "enterprises": 5_000}
"""Entities generated per population when the caller names no size."""
REVIEWER = "reviewer"
"""Default approver of pipeline-trained versions: never the training actor (two-person rule)."""


class PublishedModel(BaseModel):
    """A trained model, registered and holding an alias."""

    algorithm: str
    model_name: str
    version: str
    alias: str
    run_id: str
    metrics: dict[str, float]
    parity_max_abs_diff: float
    train_rows: int
    holdout_rows: int


def initialize(settings: Settings) -> None:
    """Create the data dir layout, bring the metadata DB schema to head, make the node's SM2 key."""
    from warehouse.security import ensure_node_key

    settings.ensure_dirs()
    ensure_node_key(settings)
    db = MetadataDB.from_settings(settings)
    try:
        db.upgrade_schema()
    finally:
        db.dispose()


def prepare_features(
    settings: Settings,
    *,
    n_entities: int,
    seed: int,
    population: str = "buildings",
    on_progress: ProgressCallback = no_progress,
) -> tuple[DatasetManifest, MaterializeReport]:
    """Generate a population, apply the Feast definitions, materialise the population's latest values."""
    from features.datasets import generate_population
    from features.store import apply_definitions, materialize_latest

    manifest = generate_population(settings, population=population, n_entities=n_entities, seed=seed)
    on_progress(1)
    apply_definitions(settings)
    on_progress(1)
    report = materialize_latest(settings, populations=[population])
    on_progress(1)
    return manifest, report


def train_and_publish(
    settings: Settings,
    algorithm_name: str,
    *,
    seed: int,
    actor: str,
    alias: str = CHAMPION,
    on_progress: ProgressCallback = no_progress,
    reviewer: str = REVIEWER,
    card: ModelCardUpdate | None = None,
    search_trials: int | None = None,
    search_executor: TrialExecutor = "local",
) -> PublishedModel:
    """Train, log, register, submit (by ``actor``), approve (by ``reviewer``) and point ``alias`` at it.

    With ``search_trials``, a hyper-parameter search runs first and only its best model is registered.
    """
    from algorithms.catalogue import get_algorithm
    from features.training import build_training_set
    from registry.lifecycle import approve, submit
    from registry.models import register_version, set_alias

    algorithm = get_algorithm(algorithm_name)
    training_set = build_training_set(settings, feature_service=algorithm.feature_service)
    on_progress(1)
    report = _train(settings, algorithm, training_set, seed=seed, trials=search_trials, executor=search_executor)
    on_progress(1)
    ref = register_version(settings, run_id=report.run_id, model_name=algorithm.name, actor=actor)
    names = {"model_name": ref.model_name, "version": ref.version}
    submit(settings, **names, actor=actor, reason="trained by the pipeline", card=card or _pipeline_card(algorithm))
    approve(settings, **names, actor=reviewer, reason="approved by the pipeline's reviewer")
    set_alias(
        settings,
        model_name=algorithm.name,
        alias=alias,
        version=ref.version,
        actor=actor,
        reason=f"trained by {actor} (run {report.run_id})",
    )
    on_progress(1)
    return PublishedModel(
        algorithm=algorithm.name,
        model_name=ref.model_name,
        version=ref.version,
        alias=alias,
        run_id=report.run_id,
        metrics=report.metrics,
        parity_max_abs_diff=report.parity_max_abs_diff,
        train_rows=report.train_rows,
        holdout_rows=report.holdout_rows,
    )


def validate_rolling(settings: Settings, algorithm_name: str, *, folds: int, seed: int) -> RollingReport:
    """Rolling time-based validation of an algorithm on its point-in-time training set (no model registered)."""
    from algorithms.catalogue import get_algorithm
    from experiments.rolling import run_rolling_validation
    from features.training import build_training_set

    algorithm = get_algorithm(algorithm_name)
    training_set = build_training_set(settings, feature_service=algorithm.feature_service)
    return run_rolling_validation(settings, algorithm, training_set, folds=folds, seed=seed)


def _train(
    settings: Settings,
    algorithm: Algorithm,
    training_set: pd.DataFrame,
    *,
    seed: int,
    trials: int | None,
    executor: TrialExecutor,
) -> TrainingReport:
    """One training run, or a search of ``trials`` whose parent run trains the best candidate."""
    from experiments.search import run_search
    from experiments.training import run_training

    if trials is None:
        return run_training(settings, algorithm, training_set, seed=seed)
    return run_search(settings, algorithm, training_set, trials=trials, seed=seed, executor=executor).training


def _pipeline_card(algorithm: Algorithm) -> ModelCardUpdate:
    """The human part of the model card for versions trained by the pipeline (demo and tests)."""
    from registry.card import ModelCardUpdate

    return ModelCardUpdate(
        intended_use=f"{algorithm.name} scores and risk levels for each {algorithm.entity}, for supervisors' triage",
        owner_department="data-science",
        limitations="Trained on synthetic, seeded data; validate on real records before operational use.",
        classification="internal",
    )


def build_demo_warehouse(settings: Settings, *, n_buildings: int, seed: int) -> PublishedModel:
    """A warehouse with features online and one fire-risk champion (used by tests and benches)."""
    initialize(settings)
    prepare_features(settings, n_entities=n_buildings, seed=seed)
    return train_and_publish(settings, "fire_risk", seed=seed, actor="demo")
