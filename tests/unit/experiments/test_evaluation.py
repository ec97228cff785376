"""KS, calibration curve and per-level metrics of the hold-out evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from algorithms.grading import GradingPolicy
from experiments.evaluation import binary_metrics, calibration_curve, ks_statistic, metrics_by_level


def test_ks_is_one_for_a_perfect_ranking_and_zero_for_a_flat_one() -> None:
    labels = np.array([0, 0, 1, 0, 1, 1], dtype=np.int64)
    assert ks_statistic(labels, labels * 0.8 + 0.1) == 1.0
    assert ks_statistic(labels, np.full(6, 0.4)) == 0.0
    # Half the positives above every negative, the other half below: TPR - FPR peaks at 2/3.
    assert ks_statistic(labels, np.array([0.5, 0.4, 0.9, 0.3, 0.1, 0.8])) == pytest.approx(2 / 3)


def test_calibration_curve_of_calibrated_scores_follows_the_diagonal() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.0, 0.4, 50_000)
    labels = (rng.random(scores.size) < scores).astype(np.int64)
    curve = calibration_curve(labels, scores, bins=10)
    assert len(curve.rows) == 10
    assert sum(curve.rows) == scores.size
    assert np.allclose(curve.mean_predicted, curve.observed_rate, atol=0.02)
    assert curve.mean_predicted == sorted(curve.mean_predicted)


def test_calibration_curve_merges_bins_of_tied_scores() -> None:
    labels = np.array([0, 1, 0, 1], dtype=np.int64)
    curve = calibration_curve(labels, np.full(4, 0.25), bins=10)
    assert (curve.rows, curve.observed_rate) == ([4], [0.5])


def test_metrics_by_level_report_share_rate_and_mean_score_of_every_level() -> None:
    policy = GradingPolicy(levels=("A", "B", "C", "D"), thresholds=(0.1, 0.5, 0.9))
    scores = np.array([0.05, 0.05, 0.2, 0.6, 0.7, 0.7])
    labels = np.array([0, 0, 1, 1, 0, 1], dtype=np.int64)
    metrics = metrics_by_level(labels, scores, policy.grade(scores), policy.levels)
    assert metrics["level_A_share"] == pytest.approx(2 / 6)
    assert metrics["level_A_rate"] == 0.0
    assert metrics["level_C_rate"] == pytest.approx(2 / 3)
    assert metrics["level_C_mean_score"] == pytest.approx(2.0 / 3)
    assert (metrics["level_D_share"], metrics["level_D_rate"]) == (0.0, 0.0)
    assert "ks" in binary_metrics(labels, scores, policy.grade(scores))
