"""Credit supervision: a market entity's credit score (300-900), grade A-D and inspection frequency.

The model is LightGBM with **monotone constraints**: every feature whose direction of risk is
declared in :mod:`features.definitions.market_entities` (``risk_direction``) can only move the
probability of a serious violation in that direction, so a supervisor can explain a grade ("more
penalties never improve it") and per-feature contributions have the sign the direction promises.

Score: the probability ``p`` of a serious violation (严重违法失信) in the next month is put on a
scorecard scale by points-to-double-odds scaling (:class:`algorithms.grading.PointsScale`):
600 points at good:bad odds of 50:1, 40 more points for every doubling of the odds, clipped to
300-900. Higher is better.

Grades and what they imply for "双随机、一公开" random inspections (分级分类监管, graded
supervision); the cut-offs are supervisory policy, fixed on the points scale, not re-fitted per
model:

=====  ==============  ==================  ============================================================
grade  points          monthly p (approx)  inspection frequency
=====  ==============  ==================  ============================================================
A      700 and above   below 0.35 %        sampling ratio 3 %: at most once every 3 years
B      620 - 700       0.35 % - 1.4 %      sampling ratio 10 %: about once every 2 years
C      540 - 620       1.4 % - 5.4 %       sampling ratio 30 %: at least once a year
D      below 540       5.4 % and above     key supervision, 100 %: every year plus targeted checks
=====  ==============  ==================  ============================================================

Grade D raises the early-warning flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from algorithms.base import GradingPolicy, ParamValue, Task
from algorithms.grading import PointsScale
from algorithms.lightgbm_model import LightGBMBinary, declared_directions

GRADES = ("A", "B", "C", "D")
GRADE_POINTS = (700.0, 620.0, 540.0)
"""Lowest points of grades A, B and C."""
INSPECTION_FREQUENCY = {
    "A": "sampling ratio 3 %: at most once every 3 years",
    "B": "sampling ratio 10 %: about once every 2 years",
    "C": "sampling ratio 30 %: at least once a year",
    "D": "key supervision, 100 %: every year plus targeted checks",
}
CREDIT_SCALE = PointsScale(base_points=600.0, base_odds=50.0, pdo=40.0, minimum=300.0, maximum=900.0)


def credit_grading() -> GradingPolicy:
    """Grades A-D cut on the points scale, expressed as the equivalent probabilities."""
    return GradingPolicy(
        levels=GRADES,
        thresholds=tuple(CREDIT_SCALE.probability_at(points) for points in GRADE_POINTS),
        warning_levels=("D",),
        basis="fixed credit-score cut-offs: A >= 700, B >= 620, C >= 540, D below (600 at 50:1, 40 PDO)",
        score_scale=CREDIT_SCALE,
        inspection_frequency=INSPECTION_FREQUENCY,
    )


class CreditSupervision(LightGBMBinary):
    """Market-entity serious-violation probability, credit score, grade and inspection frequency."""

    name: ClassVar[str] = "credit_supervision"
    entity: ClassVar[str] = "market_entity_id"
    feature_service: ClassVar[str] = "credit_supervision"
    label: ClassVar[str] = "serious_violation_next_month"
    task: ClassVar[Task] = "binary"
    default_grading: ClassVar[GradingPolicy] = credit_grading()

    def default_params(self) -> dict[str, ParamValue]:
        """Shallow trees: few, declared-monotone features, and grades a supervisor must explain."""
        return {**super().default_params(), "n_estimators": 200, "num_leaves": 15, "colsample_bytree": 1.0}

    def monotone_constraints(self, feature_names: Sequence[str]) -> list[int]:
        """The declared direction of risk of each feature (0 where none is declared)."""
        return declared_directions(self.feature_service, feature_names)

    def derive_grading(self, holdout_scores: npt.NDArray[np.float64]) -> GradingPolicy:
        """The fixed supervisory grading: cut-offs are policy, not fitted to the hold-out."""
        return credit_grading()
