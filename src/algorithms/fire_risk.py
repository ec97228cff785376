"""Fire-risk prediction: probability that a building has a fire incident next month, and its level.

A LightGBM binary classifier on the ``fire_risk`` feature service, exported to ONNX with
onnxmltools (no ZipMap, so the probabilities come out as a plain ``[N, 2]`` float tensor). The
fitted model is a LightGBM ``Booster`` with float32-exact thresholds, so that it and its ONNX
export agree to float rounding on every row (see :mod:`algorithms.lightgbm_export`).

Choices, and why:

* **Monotone constraints** in every direction of risk declared in
  :mod:`features.definitions.buildings` (``risk_direction``): more open violations, faults, overload
  or past incidents never lower the probability, a sprinkler system never raises it. An inspector
  can then rely on the sign of each reason, and the model cannot learn a spurious reversal from a
  noisy month. Features without a settled direction stay free.
* Imbalance (1-3 % positives) is handled with large leaves (``min_child_samples``), shrinkage and
  bagging, *not* with ``is_unbalance`` or ``scale_pos_weight``: those distort the probabilities,
  while the Brier score, the grading thresholds and any capacity planning downstream need
  probabilities that mean what they say.
* Levels are rate-based, derived on the hold-out months: ``critical`` = top 1 % of scores,
  ``high`` = top 5 %, ``medium`` = top 20 %, ``low`` = the rest. Inspection capacity is planned as
  a share of buildings, so shares stay meaningful when the base rate drifts, and a fixed
  probability cut-off would not. ``high`` and ``critical`` raise the early-warning flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from algorithms.base import GradingPolicy, Task
from algorithms.lightgbm_model import LevelledRiskModel, declared_directions, fixed_risk_grading


class FireRisk(LevelledRiskModel):
    """Building fire-incident probability for next month, with a low/medium/high/critical level."""

    name: ClassVar[str] = "fire_risk"
    entity: ClassVar[str] = "building_id"
    feature_service: ClassVar[str] = "fire_risk"
    label: ClassVar[str] = "incident_next_month"
    task: ClassVar[Task] = "binary"
    default_grading: ClassVar[GradingPolicy] = fixed_risk_grading((0.05, 0.15, 0.40))

    def monotone_constraints(self, feature_names: Sequence[str]) -> list[int]:
        """The declared direction of risk of each feature (0 where none is declared)."""
        return declared_directions(self.feature_service, feature_names)
