"""Hyper-parameter search: N trials over the algorithm's search space, the best one trained and logged.

The hold-out months stay untouched by the search: the months before them are split once more by
time, the last ``validation_months`` of them validate each trial (ROC-AUC on those months, the
metric the search maximises), and the earlier ones train it. Candidates are drawn from the
algorithm's :meth:`~algorithms.base.Algorithm.search_space` with the seed, before any trial runs,
and every trial fits with that seed on one thread, so a trial's result depends on its parameters
alone, not on which executor ran it or in which order: ``local`` runs them one after another in
this process, ``ray`` as Ray tasks of :data:`RAY_TRIAL_CPUS` CPU each (``ray.init`` in-process
when no Ray is running, shut down again afterwards; never ``ray stop``).

MLflow: one parent run (``<algorithm>-search<N>-seed<seed>``) holds a nested child run per trial
(its parameters and validation metrics; no model), then the best trial's parameters refitted on
every month before the hold-out, evaluated on the hold-out, exported and logged exactly as a plain
training run. The parent run is the one registered; children never hold a model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from algorithms.base import Algorithm, ParamValue
from experiments.splits import TimeSplit, split_by_month
from experiments.training import (
    STEPS,
    StepClock,
    TrainingReport,
    prepare_training_set,
    require_binary,
    train_in_active_run,
)
from experiments.validation import require_both_classes
from warehouse.errors import InvalidRequest
from warehouse.progress import ProgressCallback, no_progress
from warehouse.ray_runtime import ray_connection
from warehouse.tracking import ensure_experiment

if TYPE_CHECKING:
    import pandas as pd

    from warehouse.settings import Settings

logger = logging.getLogger(__name__)

TrialExecutor = Literal["local", "ray"]
SEARCH_METRIC = "validation_roc_auc"
"""The metric the search maximises (ties go to the earlier trial)."""
TRIAL_THREADS = 1
"""LightGBM threads per trial: parallel trials must not oversubscribe, and a result must not depend on it."""
RAY_TRIAL_CPUS = 0.5
"""Logical CPUs one Ray trial task asks for."""
SEARCH_ARTIFACT_DIR = "search"


class TrialResult(BaseModel):
    """One trial: its number, the parameters drawn for it, and its validation metrics."""

    model_config = ConfigDict(frozen=True)

    number: int
    drawn: dict[str, ParamValue]
    """The parameters the search space drew (the rest are the algorithm's defaults)."""
    metrics: dict[str, float]


class SearchReport(BaseModel):
    """The trials of a search and the training run of the best one (the parent run)."""

    model_config = ConfigDict(frozen=True)

    training: TrainingReport
    trials: list[TrialResult]
    best_trial: int
    validation_months: tuple[str, ...]


def run_search(
    settings: Settings,
    algorithm: Algorithm,
    training_set: pd.DataFrame,
    *,
    trials: int,
    seed: int = 42,
    holdout_months: int = 4,
    validation_months: int | None = None,
    params: Mapping[str, ParamValue] | None = None,
    executor: TrialExecutor = "local",
    on_progress: ProgressCallback | None = None,
) -> SearchReport:
    """Search ``trials`` candidates, then train and log the best as the parent run (see the module docstring)."""
    import mlflow

    require_binary(algorithm)
    space = algorithm.search_space()
    if not space.dimensions:
        raise InvalidRequest(f"{algorithm.name} declares no search space; train it without --search")
    if trials < 1:
        raise InvalidRequest(f"a search needs at least one trial, got {trials}")
    clock = StepClock(on_progress or no_progress)
    clock.on_progress(0, len(STEPS) + trials)
    with clock.step("validate"):
        prepared = prepare_training_set(algorithm, training_set, holdout_months=holdout_months)
        inner = _validation_split(algorithm, prepared.split.train, validation_months or holdout_months)
    base: dict[str, ParamValue] = {**algorithm.default_params(), **(params or {}), "seed": seed}
    candidates = space.draw(trials, seed=seed)
    experiment_id = ensure_experiment(settings, algorithm.name)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{algorithm.name}-search{trials}-seed{seed}"):
        mlflow.set_tags(
            {
                "warehouse.search.trials": str(trials),
                "warehouse.search.executor": executor,
                "warehouse.search.metric": SEARCH_METRIC,
            }
        )
        mlflow.log_dict(space.model_dump(mode="json"), f"{SEARCH_ARTIFACT_DIR}/space.json")
        results = evaluate_trials(
            settings, algorithm, inner, base, candidates, executor=executor, on_trial=lambda: clock.on_progress(1)
        )
        _log_trials(results, base, experiment_id=experiment_id)
        best = max(results, key=lambda result: (result.metrics[SEARCH_METRIC], -result.number))
        _log_choice(best, results, inner)
        report = train_in_active_run(
            settings, algorithm, prepared, {**base, **best.drawn}, experiment_id=experiment_id, seed=seed, clock=clock
        )
    logger.info(
        "search of %s: best trial %d of %d, %s=%.4f",
        algorithm.name,
        best.number,
        trials,
        SEARCH_METRIC,
        best.metrics[SEARCH_METRIC],
    )
    return SearchReport(training=report, trials=results, best_trial=best.number, validation_months=inner.holdout_months)


def _validation_split(algorithm: Algorithm, train: pd.DataFrame, validation_months: int) -> TimeSplit:
    inner = split_by_month(train, holdout_months=validation_months)
    require_both_classes(algorithm, inner.train, part="search-training")
    require_both_classes(algorithm, inner.holdout, part="validation")
    return inner


def evaluate_trial(
    algorithm: Algorithm,
    split: TimeSplit,
    number: int,
    params: Mapping[str, ParamValue],
    drawn: Mapping[str, ParamValue],
) -> TrialResult:
    """Fit on ``split.train`` with ``params`` on one thread; metrics on ``split.holdout`` (the validation months)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    model = algorithm.fit(split.train, {**params, "num_threads": TRIAL_THREADS})
    scores = algorithm.predict_proba(model, split.holdout)
    labels = split.holdout[algorithm.label].to_numpy(dtype=np.int64)
    metrics = {
        SEARCH_METRIC: float(roc_auc_score(labels, scores)),
        "validation_pr_auc": float(average_precision_score(labels, scores)),
        "validation_brier": float(brier_score_loss(labels, scores)),
        "validation_log_loss": float(log_loss(labels, scores, labels=[0, 1])),
    }
    return TrialResult(number=number, drawn=dict(drawn), metrics=metrics)


def evaluate_trials(
    settings: Settings,
    algorithm: Algorithm,
    split: TimeSplit,
    base: Mapping[str, ParamValue],
    candidates: Sequence[Mapping[str, ParamValue]],
    *,
    executor: TrialExecutor = "local",
    on_trial: Callable[[], None] = lambda: None,
) -> list[TrialResult]:
    """Every candidate's trial result, in candidate order, from the chosen executor."""
    if executor == "ray":
        return _evaluate_on_ray(settings, algorithm, split, base, candidates, on_trial)
    results = []
    for number, drawn in enumerate(candidates):
        results.append(evaluate_trial(algorithm, split, number, {**base, **drawn}, drawn))
        on_trial()
    return results


def _evaluate_on_ray(
    settings: Settings,
    algorithm: Algorithm,
    split: TimeSplit,
    base: Mapping[str, ParamValue],
    candidates: Sequence[Mapping[str, ParamValue]],
    on_trial: Callable[[], None],
) -> list[TrialResult]:
    import ray

    with ray_connection(settings, object_store_memory=_object_store_bytes(split)):
        task = ray.remote(num_cpus=RAY_TRIAL_CPUS)(evaluate_trial)
        split_ref = ray.put(split)
        pending = {
            task.remote(algorithm, split_ref, number, {**base, **drawn}, drawn): number
            for number, drawn in enumerate(candidates)
        }
        results: dict[int, TrialResult] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                results[pending.pop(ref)] = ray.get(ref)
                on_trial()
        return [results[number] for number in range(len(candidates))]


def _object_store_bytes(split: TimeSplit) -> int:
    """Room for the split a few times over, and at least Ray's 75 MiB minimum."""
    size = int(split.train.memory_usage(deep=True).sum() + split.holdout.memory_usage(deep=True).sum())
    return max(128 * 1024**2, 4 * size)


def _log_trials(results: Sequence[TrialResult], base: Mapping[str, ParamValue], *, experiment_id: str) -> None:
    """One nested child run per trial: every parameter it fitted with, and its validation metrics."""
    import mlflow

    for result in results:
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"trial-{result.number:03d}", nested=True):
            mlflow.log_params({**base, **result.drawn, "num_threads": TRIAL_THREADS})
            mlflow.log_metrics(result.metrics)
            mlflow.set_tag("warehouse.search.trial", str(result.number))


def _log_choice(best: TrialResult, results: Sequence[TrialResult], inner: TimeSplit) -> None:
    """On the parent: which trial won, its validation metric, and the whole trial table."""
    import mlflow

    mlflow.log_params(
        {
            "search_trials": len(results),
            "search_best_trial": best.number,
            "search_validation_months": len(inner.holdout_months),
            "search_validation_first_month": inner.holdout_months[0],
        }
    )
    mlflow.log_metric(f"search_best_{SEARCH_METRIC}", best.metrics[SEARCH_METRIC])
    mlflow.log_dict(
        {
            "metric": SEARCH_METRIC,
            "best_trial": best.number,
            "trials": [result.model_dump(mode="json") for result in results],
        },
        f"{SEARCH_ARTIFACT_DIR}/trials.json",
    )
