"""Search trials on Ray (``ray.init`` in-process, fractional CPUs) give exactly the local results."""

from __future__ import annotations

from pathlib import Path

import pytest

from algorithms.fire_risk import FireRisk
from algorithms.testing import FAST_FIRE_RISK_PARAMS, synthetic_training_set
from experiments.search import SEARCH_METRIC, evaluate_trials
from experiments.splits import split_by_month
from warehouse.settings import Settings


@pytest.mark.integration
def test_ray_trials_equal_local_trials_and_ray_is_shut_down_after(tmp_path: Path) -> None:
    import ray

    settings = Settings(data_dir=tmp_path / "wh")
    algorithm = FireRisk()
    frame = synthetic_training_set(n_entities=40, seed=17, positive_rate=0.10)
    split = split_by_month(split_by_month(frame, holdout_months=4).train, holdout_months=4)
    base = {**algorithm.default_params(), **FAST_FIRE_RISK_PARAMS, "seed": 11}
    candidates = algorithm.search_space().draw(3, seed=11)
    advanced: list[int] = []

    on_ray = evaluate_trials(
        settings, algorithm, split, base, candidates, executor="ray", on_trial=lambda: advanced.append(1)
    )
    local = evaluate_trials(settings, algorithm, split, base, candidates)

    assert [trial.number for trial in on_ray] == [0, 1, 2]
    assert [trial.drawn for trial in on_ray] == candidates
    assert [trial.metrics for trial in on_ray] == [trial.metrics for trial in local]
    assert all(0.0 <= trial.metrics[SEARCH_METRIC] <= 1.0 for trial in on_ray)
    assert len(advanced) == 3
    assert not ray.is_initialized()
