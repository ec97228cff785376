"""Make a LightGBM booster decide exactly as its ONNX export does.

LightGBM compares a feature value with a split threshold in double precision; ONNX's
TreeEnsemble compares in float32, with each threshold rounded to the *nearest* float32. When a
threshold lies between two adjacent float32 values (it does whenever the training data holds
both), rounding can move it onto the upper value, and rows holding exactly that value go left in
ONNX and right in LightGBM: probabilities then differ by up to 1e-2 on real data.

:func:`float32_exact_booster` rounds every numerical threshold *down* to the largest float32 not
above it. For any float32 input ``x``, ``x <= t`` exactly when ``x <= floor32(t)``, so LightGBM's
own predictions on float32 inputs do not change, and the ONNX export, whose thresholds are now
exact float32 values, makes the same decision at every node. Models are fitted and scored on
float32 inputs for that reason.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lightgbm import Booster

CATEGORICAL_DECISION = 1
"""Bit of LightGBM's ``decision_type`` marking a categorical split (its threshold is an index)."""

_TREE_START = re.compile(r"^Tree=\d+$", re.MULTILINE)
_TREES_END = "end of trees"


def float32_exact_booster(booster: Booster) -> Booster:
    """A copy of ``booster`` whose numerical thresholds are float32 values (rounded down)."""
    from lightgbm import Booster

    model = booster.model_to_string()
    starts = [match.start() for match in _TREE_START.finditer(model)]
    if not starts:
        return Booster(model_str=model)
    end = model.index(_TREES_END, starts[-1])
    bounds = [*starts, end]
    trees = [_floor_tree(model[begin:stop]) for begin, stop in itertools.pairwise(bounds)]
    header = re.sub(
        r"^tree_sizes=.*$",
        "tree_sizes=" + " ".join(str(len(tree.encode("utf-8"))) for tree in trees),
        model[: starts[0]],
        count=1,
        flags=re.MULTILINE,
    )
    return Booster(model_str=header + "".join(trees) + model[end:])


def floor_to_float32(value: float) -> float:
    """The largest float32 value not above ``value``."""
    with np.errstate(over="ignore"):  # beyond the float32 range: inf, then the largest float32
        rounded = np.float32(value)
    if float(rounded) > value:
        rounded = np.nextafter(rounded, np.float32(-np.inf))
    return float(rounded)


def _floor_tree(tree: str) -> str:
    fields = dict(line.split("=", 1) for line in tree.splitlines() if "=" in line)
    thresholds = fields.get("threshold", "").split()
    decisions = [int(value) for value in fields.get("decision_type", "").split()]
    floored = [
        value if decision & CATEGORICAL_DECISION else repr(floor_to_float32(float(value)))
        for value, decision in zip(thresholds, decisions, strict=True)
    ]
    return re.sub(r"^threshold=.*$", "threshold=" + " ".join(floored), tree, count=1, flags=re.MULTILINE)
