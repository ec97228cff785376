"""Risk scoring: an enterprise's probability of financial distress next month, its level and warning.

LightGBM on the ``risk_scoring`` feature service: more than 100 features from seven sources
(registration, tax, social insurance, utilities, court and penalty records, financing, supply
chain), many missing where a source shares no data; LightGBM routes missing values down a learnt
branch, so no imputation is needed. Probabilities are kept calibrated (no re-weighting; see
:mod:`algorithms.fire_risk`).

Levels are rate-based on the hold-out months, as a supervisor's follow-up capacity is a share of
enterprises: ``critical`` = top 1 %, ``high`` = top 5 %, ``medium`` = top 20 %, ``low`` the rest;
``high`` and ``critical`` raise the early-warning flag.
"""

from __future__ import annotations

from typing import ClassVar

from algorithms.base import GradingPolicy, ParamValue, Task
from algorithms.lightgbm_model import LevelledRiskModel, fixed_risk_grading


class RiskScoring(LevelledRiskModel):
    """Enterprise financial-distress probability with a low/medium/high/critical level."""

    name: ClassVar[str] = "risk_scoring"
    entity: ClassVar[str] = "enterprise_id"
    feature_service: ClassVar[str] = "risk_scoring"
    label: ClassVar[str] = "distress_next_month"
    task: ClassVar[Task] = "binary"
    default_grading: ClassVar[GradingPolicy] = fixed_risk_grading((0.02, 0.06, 0.20))

    def default_params(self) -> dict[str, ParamValue]:
        """A wide, partly missing profile: sample half the features per tree."""
        return {**super().default_params(), "colsample_bytree": 0.5}
