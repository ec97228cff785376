"""Hyper-parameter search spaces: what an algorithm lets a search vary, and seeded draws from it.

An algorithm declares its space with :meth:`algorithms.base.Algorithm.search_space`: each
parameter is an integer or float range (optionally on a log scale) or a choice among values.
:meth:`SearchSpace.draw` turns a seed into the same list of candidate parameter sets every time,
whatever executes the trials afterwards, so a search is reproducible from its seed.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

ParamValue = str | int | float | bool
"""A hyper-parameter value: what MLflow can log as a param and JSON can carry."""


class IntRange(BaseModel):
    """Integers from ``low`` to ``high`` inclusive, uniform or log-uniform."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        if self.low > self.high or (self.log and self.low < 1):
            raise ValueError(f"need low <= high (and low >= 1 on a log scale), got {self.low}..{self.high}")
        return self

    def sample(self, rng: np.random.Generator) -> int:
        """One draw."""
        if not self.log:
            return int(rng.integers(self.low, self.high + 1))
        drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
        return min(int(drawn), self.high)


class FloatRange(BaseModel):
    """Floats between ``low`` and ``high``, uniform or log-uniform."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        if self.low > self.high or (self.log and self.low <= 0):
            raise ValueError(f"need low <= high (and low > 0 on a log scale), got {self.low}..{self.high}")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        """One draw, rounded to 6 significant digits so that it logs and reads cleanly."""
        if self.log:
            drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            drawn = float(rng.uniform(self.low, self.high))
        return float(f"{drawn:.6g}")


class Choice(BaseModel):
    """One of a few values, each equally likely."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["choice"] = "choice"
    values: tuple[ParamValue, ...] = Field(min_length=1)

    def sample(self, rng: np.random.Generator) -> ParamValue:
        """One draw."""
        return self.values[int(rng.integers(len(self.values)))]


Dimension = Annotated[IntRange | FloatRange | Choice, Field(discriminator="kind")]


class SearchSpace(BaseModel):
    """Named dimensions a search varies; parameters outside it keep the algorithm's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dimensions: dict[str, Dimension] = Field(default_factory=dict)

    def draw(self, trials: int, *, seed: int) -> list[dict[str, ParamValue]]:
        """``trials`` parameter sets drawn with ``seed``: the same seed gives the same list."""
        if trials < 1:
            raise ValueError(f"a search needs at least one trial, got {trials}")
        rng = np.random.default_rng(seed)
        return [
            {name: dimension.sample(rng) for name, dimension in sorted(self.dimensions.items())} for _ in range(trials)
        ]
