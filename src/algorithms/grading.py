"""Risk levels and early-warning flags from model scores.

A :class:`GradingPolicy` is an ordered list of level names with the score thresholds between them
and the levels that raise the early-warning flag. It is derived when a model is trained, written
into the model's metadata (``warehouse_model.json``) and applied, vectorised, wherever the model
scores: online, in batch, and in the training report. Nothing here knows about a particular
algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from warehouse.errors import DataValidationError


@dataclass(frozen=True)
class Grades:
    """The grading of a batch of scores, one entry per score."""

    level_index: npt.NDArray[np.intp]
    """Position of each score's level in :attr:`GradingPolicy.levels` (0 = lowest)."""

    levels: npt.NDArray[np.str_]
    """Level name of each score."""

    warnings: npt.NDArray[np.bool_]
    """True where the level raises the early-warning flag."""


class PointsScale(BaseModel):
    """Scorecard points from a probability of the bad outcome: points-to-double-odds scaling.

    ``points = base_points + pdo / ln 2 * ln(odds / base_odds)`` with ``odds = (1 - p) / p`` the
    odds of the good outcome, clipped to ``[minimum, maximum]``: ``base_points`` at good:bad odds
    of ``base_odds``, and every ``pdo`` more points double the odds. Higher points, lower risk;
    the map is strictly decreasing in ``p`` inside the clip range, so grades cut on points and on
    probabilities are the same grades.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_points: float = 600.0
    base_odds: float = Field(default=50.0, gt=0)
    pdo: float = Field(default=40.0, gt=0)
    minimum: float = 300.0
    maximum: float = 900.0

    def points(self, probabilities: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Points of each probability (vectorised; probabilities are clipped away from 0 and 1)."""
        p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0 - 1e-12)
        raw = self.base_points + self.pdo / np.log(2.0) * np.log((1.0 - p) / p / self.base_odds)
        points: npt.NDArray[np.float64] = np.clip(raw, self.minimum, self.maximum)
        return points

    def probability_at(self, points: float) -> float:
        """The probability whose (unclipped) points are ``points``: the inverse of :meth:`points`."""
        odds = self.base_odds * 2.0 ** ((points - self.base_points) / self.pdo)
        return float(1.0 / (1.0 + odds))


class GradingPolicy(BaseModel):
    """Ordered levels, the score thresholds between them, and the levels that raise a warning.

    A score ``s`` gets level ``i`` where ``i`` is the number of thresholds ``<= s``: a score equal
    to a threshold belongs to the higher level. Thresholds may repeat (a level can then be empty)
    but never decrease.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: tuple[str, ...] = Field(min_length=2)
    """Level names from the lowest to the highest risk."""

    thresholds: tuple[float, ...]
    """Lower score bound of every level but the lowest, in level order (one fewer than levels)."""

    warning_levels: tuple[str, ...] = ()
    """Levels whose scores raise the early-warning flag."""

    basis: str = ""
    """How the thresholds were chosen, for people reading a model card."""

    score_scale: PointsScale | None = None
    """A points scale the probability is also reported on (e.g. a 300-900 credit score), if any."""

    inspection_frequency: dict[str, str] = Field(default_factory=dict)
    """What each level implies for random inspections ("双随机、一公开"), by level name; may be empty."""

    @model_validator(mode="after")
    def _consistent(self) -> GradingPolicy:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"level names must be unique: {self.levels}")
        if len(self.thresholds) != len(self.levels) - 1:
            raise ValueError(f"{len(self.levels)} levels need {len(self.levels) - 1} thresholds, got {self.thresholds}")
        if any(not np.isfinite(value) for value in self.thresholds):
            raise ValueError(f"thresholds must be finite: {self.thresholds}")
        if any(low > high for low, high in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError(f"thresholds must not decrease: {self.thresholds}")
        unknown = sorted(set(self.warning_levels) - set(self.levels))
        if unknown:
            raise ValueError(f"warning levels {unknown} are not among the levels {self.levels}")
        unknown = sorted(set(self.inspection_frequency) - set(self.levels))
        if unknown:
            raise ValueError(f"inspection frequency names unknown levels {unknown}; levels are {self.levels}")
        return self

    @classmethod
    def from_top_shares(
        cls,
        scores: npt.ArrayLike,
        *,
        levels: Sequence[str],
        top_shares: Sequence[float],
        warning_levels: Sequence[str],
    ) -> GradingPolicy:
        """Thresholds that put the given top share of ``scores`` at or above each level but the lowest.

        ``top_shares`` pairs with ``levels[1:]`` and must decrease, e.g. ``(0.20, 0.05, 0.01)`` puts
        the top 20 % of scores at the second level or higher and the top 1 % at the highest.
        """
        shares = np.asarray(top_shares, dtype=np.float64)
        if shares.size != len(levels) - 1 or not ((shares > 0) & (shares < 1)).all():
            raise ValueError(f"need {len(levels) - 1} top shares in (0, 1), got {tuple(top_shares)}")
        if (np.diff(shares) >= 0).any():
            raise ValueError(f"top shares must decrease level by level, got {tuple(top_shares)}")
        values = _finite_scores(scores)
        if values.size == 0:
            raise DataValidationError("cannot derive grading thresholds from no scores")
        thresholds = np.quantile(values, 1.0 - shares)
        basis = ", ".join(
            f"{level} = top {share:.0%}" for level, share in zip(levels[1:], shares.tolist(), strict=True)
        )
        return cls(
            levels=tuple(levels),
            thresholds=tuple(float(value) for value in thresholds),
            warning_levels=tuple(warning_levels),
            basis=f"quantiles of {values.size} hold-out scores: {basis}",
        )

    def threshold_by_level(self) -> dict[str, float]:
        """The lower score bound of each level but the lowest, keyed by level name."""
        return dict(zip(self.levels[1:], self.thresholds, strict=True))

    def grade(self, scores: npt.ArrayLike) -> Grades:
        """Level and warning flag of every score (a 1-D array of finite numbers)."""
        values = _finite_scores(scores)
        level_index = np.searchsorted(np.asarray(self.thresholds, dtype=np.float64), values, side="right")
        warning_index = [position for position, name in enumerate(self.levels) if name in self.warning_levels]
        return Grades(
            level_index=level_index.astype(np.intp),
            levels=np.asarray(self.levels, dtype=np.str_)[level_index],
            warnings=np.isin(level_index, warning_index),
        )


def _finite_scores(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise DataValidationError(f"scores must be a 1-D array, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise DataValidationError(f"{int((~np.isfinite(values)).sum())} scores are NaN or infinite")
    return values
