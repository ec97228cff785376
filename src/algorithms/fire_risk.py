"""Fire-risk prediction: probability that a building has a fire incident next month, and its level.

A LightGBM binary classifier on the ``fire_risk`` feature service, exported to ONNX with
onnxmltools (no ZipMap, so the probabilities come out as a plain ``[N, 2]`` float tensor). The
fitted model is a LightGBM ``Booster`` with float32-exact thresholds, so that it and its ONNX
export agree to float rounding on every row (see :mod:`algorithms.lightgbm_export`).

Choices, and why:

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

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from algorithms.base import GradingPolicy, Task
from algorithms.lightgbm_model import LightGBMBinary

LEVELS = ("low", "medium", "high", "critical")
TOP_SHARES = (0.20, 0.05, 0.01)
"""Share of hold-out scores at or above ``medium``, ``high`` and ``critical``."""
WARNING_LEVELS = ("high", "critical")


class FireRisk(LightGBMBinary):
    """Building fire-incident probability for next month, with a low/medium/high/critical level."""

    name: ClassVar[str] = "fire_risk"
    entity: ClassVar[str] = "building_id"
    feature_service: ClassVar[str] = "fire_risk"
    label: ClassVar[str] = "incident_next_month"
    task: ClassVar[Task] = "binary"
    default_grading: ClassVar[GradingPolicy] = GradingPolicy(
        levels=LEVELS,
        thresholds=(0.05, 0.15, 0.40),
        warning_levels=WARNING_LEVELS,
        basis="fixed probability cut-offs, used only where no trained model card is at hand",
    )

    def derive_grading(self, holdout_scores: npt.NDArray[np.float64]) -> GradingPolicy:
        """critical = top 1 %, high = top 5 %, medium = top 20 % of the hold-out scores."""
        return GradingPolicy.from_top_shares(
            holdout_scores, levels=LEVELS, top_shares=TOP_SHARES, warning_levels=WARNING_LEVELS
        )
