"""Grading policies: thresholds, levels, warning flags, and thresholds derived from score shares."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from algorithms.base import GradingPolicy
from algorithms.fire_risk import FireRisk
from warehouse.errors import DataValidationError

POLICY = GradingPolicy(
    levels=("low", "medium", "high", "critical"),
    thresholds=(0.1, 0.3, 0.6),
    warning_levels=("high", "critical"),
)


def test_scores_get_the_level_whose_lower_bound_they_reach() -> None:
    grades = POLICY.grade(np.array([0.0, 0.0999, 0.1, 0.29, 0.3, 0.59, 0.6, 1.0]))

    assert grades.levels.tolist() == ["low", "low", "medium", "medium", "high", "high", "critical", "critical"]
    assert grades.level_index.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert grades.warnings.tolist() == [False, False, False, False, True, True, True, True]


def test_grading_accepts_lists_and_empty_batches() -> None:
    assert POLICY.grade([0.7]).levels.tolist() == ["critical"]
    empty = POLICY.grade(np.array([], dtype=np.float64))
    assert (empty.levels.size, empty.warnings.size) == (0, 0)


@pytest.mark.parametrize("scores", [np.array([0.2, np.nan]), np.array([np.inf]), np.zeros((2, 2))])
def test_non_finite_or_non_vector_scores_are_refused(scores: np.ndarray) -> None:
    with pytest.raises(DataValidationError):
        POLICY.grade(scores)


@pytest.mark.parametrize(
    ("levels", "thresholds", "warning_levels", "problem"),
    [
        (("low", "high"), (0.1, 0.2), (), "need 1 thresholds"),
        (("low", "high", "top"), (0.5, 0.2), (), "must not decrease"),
        (("low", "low"), (0.1,), (), "unique"),
        (("low", "high"), (0.1,), ("extreme",), "not among the levels"),
        (("low", "high"), (float("nan"),), (), "finite"),
    ],
)
def test_inconsistent_policies_are_refused(
    levels: tuple[str, ...], thresholds: tuple[float, ...], warning_levels: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        GradingPolicy(levels=levels, thresholds=thresholds, warning_levels=warning_levels)


def test_policy_round_trips_through_json() -> None:
    assert GradingPolicy.model_validate_json(POLICY.model_dump_json()) == POLICY
    assert POLICY.threshold_by_level() == {"medium": 0.1, "high": 0.3, "critical": 0.6}


def test_thresholds_from_top_shares_put_those_shares_at_each_level() -> None:
    scores = np.random.default_rng(3).random(10_000)

    policy = GradingPolicy.from_top_shares(
        scores, levels=("low", "medium", "high"), top_shares=(0.2, 0.05), warning_levels=("high",)
    )
    grades = policy.grade(scores)

    assert np.mean(grades.level_index >= 1) == pytest.approx(0.20, abs=1e-3)
    assert np.mean(grades.level_index == 2) == pytest.approx(0.05, abs=1e-3)
    assert np.mean(grades.warnings) == pytest.approx(0.05, abs=1e-3)
    assert "medium = top 20%" in policy.basis


@pytest.mark.parametrize("shares", [(0.05, 0.2), (0.2,), (0.2, 1.5)])
def test_top_shares_must_decrease_and_match_the_levels(shares: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="top shares"):
        GradingPolicy.from_top_shares(np.arange(10.0), levels=("a", "b", "c"), top_shares=shares, warning_levels=())


def test_fire_risk_grades_the_top_one_five_and_twenty_percent() -> None:
    scores = np.random.default_rng(8).beta(1, 40, size=20_000)

    policy = FireRisk().derive_grading(scores)
    grades = policy.grade(scores)
    shares = {level: float(np.mean(grades.levels == level)) for level in policy.levels}

    assert policy.levels == ("low", "medium", "high", "critical")
    assert policy.warning_levels == ("high", "critical")
    assert shares == pytest.approx({"low": 0.80, "medium": 0.15, "high": 0.04, "critical": 0.01}, abs=2e-3)
    assert np.mean(grades.warnings) == pytest.approx(0.05, abs=2e-3)


def test_algorithm_grade_uses_the_given_policy_or_its_default() -> None:
    algorithm = FireRisk()

    assert algorithm.grade([0.2], POLICY).levels.tolist() == ["medium"]
    assert algorithm.grade([0.2]).levels.tolist() == ["high"]  # default cut-offs 0.05 / 0.15 / 0.40
