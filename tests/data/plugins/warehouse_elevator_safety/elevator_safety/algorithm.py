"""The ``elevator_safety`` algorithm: probability that an elevator traps passengers next month.

Built on the platform's LightGBM family (ONNX export, exact reason codes, rate-based levels); the
department only names its entity, feature service and label and picks small trees.
"""

from __future__ import annotations

from typing import ClassVar

from algorithms.base import GradingPolicy, ParamValue, Task
from algorithms.lightgbm_model import LevelledRiskModel, fixed_risk_grading


class ElevatorSafety(LevelledRiskModel):
    """Elevator entrapment probability for next month with a low/medium/high/critical level."""

    name: ClassVar[str] = "elevator_safety"
    entity: ClassVar[str] = "elevator_id"
    feature_service: ClassVar[str] = "elevator_safety"
    label: ClassVar[str] = "entrapment_next_month"
    task: ClassVar[Task] = "binary"
    default_grading: ClassVar[GradingPolicy] = fixed_risk_grading((0.05, 0.15, 0.40))

    def default_params(self) -> dict[str, ParamValue]:
        """A few shallow trees: eight features and a small fleet."""
        return {**super().default_params(), "n_estimators": 40, "num_leaves": 7, "min_child_samples": 20}
