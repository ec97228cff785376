"""Hyper-parameter search: seeded candidates, nested MLflow trial runs, the best one trained and registered."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from algorithms.base import SearchSpace
from algorithms.fire_risk import FireRisk
from algorithms.search_space import Choice, FloatRange, IntRange
from algorithms.testing import FAST_FIRE_RISK_PARAMS
from experiments.search import SEARCH_METRIC, SearchReport, evaluate_trials, run_search
from experiments.splits import split_by_month
from warehouse.cli import app
from warehouse.errors import InvalidRequest
from warehouse.settings import Settings
from warehouse.tracking import mlflow_client

TRIALS = 4


class NoSearch(FireRisk):
    """An algorithm that declares nothing to search."""

    def search_space(self) -> SearchSpace:
        return SearchSpace()


@pytest.fixture(scope="module")
def search(module_settings: Settings, fire_frame: pd.DataFrame) -> SearchReport:
    return run_search(module_settings, FireRisk(), fire_frame, trials=TRIALS, seed=3, params=FAST_FIRE_RISK_PARAMS)


@pytest.fixture(scope="module")
def client(module_settings: Settings, search: SearchReport) -> MlflowClient:
    return mlflow_client(module_settings)


def _children(client: MlflowClient, parent_run_id: str) -> list[mlflow.entities.Run]:
    experiment = client.get_run(parent_run_id).info.experiment_id
    return client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'")


def test_a_seed_draws_the_same_candidates_inside_their_ranges() -> None:
    space = SearchSpace(
        dimensions={
            "learning_rate": FloatRange(low=0.01, high=0.3, log=True),
            "num_leaves": IntRange(low=7, high=63, log=True),
            "min_child_samples": IntRange(low=10, high=20),
            "boosting": Choice(values=("gbdt", "dart")),
        }
    )
    drawn = space.draw(50, seed=9)

    assert drawn == space.draw(50, seed=9)
    assert drawn != space.draw(50, seed=10)
    assert all(0.01 <= row["learning_rate"] <= 0.3 for row in drawn)
    assert all(7 <= int(row["num_leaves"]) <= 63 for row in drawn)
    assert {row["min_child_samples"] for row in drawn} <= set(range(10, 21))
    assert {row["boosting"] for row in drawn} == {"gbdt", "dart"}
    with pytest.raises(ValueError, match="low <= high"):
        IntRange(low=5, high=4)
    with pytest.raises(ValueError, match="log scale"):
        FloatRange(low=0.0, high=1.0, log=True)


def test_lightgbm_declares_a_default_space() -> None:
    space = FireRisk().search_space()
    assert {"learning_rate", "num_leaves", "min_child_samples", "subsample", "colsample_bytree", "reg_lambda"} == set(
        space.dimensions
    )


def test_every_trial_is_a_child_run_with_its_parameters_and_validation_metric(
    client: MlflowClient, search: SearchReport
) -> None:
    children = {int(run.data.tags["warehouse.search.trial"]): run for run in _children(client, search.training.run_id)}

    assert sorted(children) == list(range(TRIALS))
    for trial in search.trials:
        child = children[trial.number]
        assert child.data.metrics[SEARCH_METRIC] == pytest.approx(trial.metrics[SEARCH_METRIC])
        assert {name: child.data.params[name] for name in trial.drawn} == {k: str(v) for k, v in trial.drawn.items()}
        assert child.data.params["n_estimators"] == str(FAST_FIRE_RISK_PARAMS["n_estimators"])
        assert child.data.params["num_threads"] == "1"
        assert child.info.status == "FINISHED"
    assert len({json.dumps(trial.drawn, sort_keys=True) for trial in search.trials}) == TRIALS


def test_the_parent_holds_the_best_trial_refitted_and_its_parameters(
    client: MlflowClient, search: SearchReport
) -> None:
    parent = client.get_run(search.training.run_id)
    scores = {trial.number: trial.metrics[SEARCH_METRIC] for trial in search.trials}
    best = max(scores, key=lambda number: (scores[number], -number))

    assert search.best_trial == best
    assert parent.data.params["search_best_trial"] == str(best)
    assert parent.data.metrics[f"search_best_{SEARCH_METRIC}"] == pytest.approx(max(scores.values()))
    drawn = search.trials[best].drawn
    assert {name: parent.data.params[name] for name in drawn} == {name: str(value) for name, value in drawn.items()}
    assert "num_threads" not in parent.data.params
    assert "roc_auc" in parent.data.metrics  # the best candidate evaluated on the untouched hold-out months
    assert search.training.model_uri.startswith("models:/")
    assert search.validation_months == ("2024-05", "2024-06", "2024-07", "2024-08")
    assert search.training.holdout_months == ("2024-09", "2024-10", "2024-11", "2024-12")
    trials_file = Path(
        mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="search/trials.json")
    )
    assert json.loads(trials_file.read_text(encoding="utf-8"))["best_trial"] == best


def test_only_the_parent_run_logs_a_model(client: MlflowClient, search: SearchReport) -> None:
    experiment = client.get_run(search.training.run_id).info.experiment_id
    models = client.search_logged_models([experiment])
    assert [model.source_run_id for model in models] == [search.training.run_id]


def test_trials_are_deterministic_for_a_seed(fire_frame: pd.DataFrame, empty_settings: Settings) -> None:
    algorithm = FireRisk()
    split = split_by_month(split_by_month(fire_frame, holdout_months=4).train, holdout_months=4)
    base = {**algorithm.default_params(), **FAST_FIRE_RISK_PARAMS, "seed": 3}
    candidates = algorithm.search_space().draw(2, seed=3)

    first = evaluate_trials(empty_settings, algorithm, split, base, candidates)
    again = evaluate_trials(empty_settings, algorithm, split, base, list(reversed(candidates)))

    assert [trial.metrics for trial in first] == [trial.metrics for trial in reversed(again)]
    assert np.isfinite([trial.metrics[SEARCH_METRIC] for trial in first]).all()


def test_an_algorithm_without_a_space_or_no_trials_is_refused(
    empty_settings: Settings, fire_frame: pd.DataFrame
) -> None:
    with pytest.raises(InvalidRequest, match="declares no search space"):
        run_search(empty_settings, NoSearch(), fire_frame, trials=2)
    with pytest.raises(InvalidRequest, match="at least one trial"):
        run_search(empty_settings, FireRisk(), fire_frame, trials=0)


def test_train_search_registers_only_the_best_as_the_next_version(settings: Settings) -> None:
    from registry.models import resolve_version

    result = CliRunner().invoke(
        app, ["--data-dir", str(settings.data_dir), "train", "fire_risk", "--search", "2", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "fire_risk v2 -> alias champion" in result.output

    ref = resolve_version(settings, model_name="fire_risk", alias_or_version="champion")
    client = mlflow_client(settings)
    parent = client.get_run(ref.run_id)
    assert ref.version == "2"
    assert parent.data.params["search_trials"] == "2"
    assert len(_children(client, ref.run_id)) == 2
    assert sorted(version.run_id == ref.run_id for version in client.search_model_versions("name = 'fire_risk'")) == [
        False,
        True,
    ]
