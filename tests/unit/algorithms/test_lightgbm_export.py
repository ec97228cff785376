"""Float32-exact LightGBM thresholds: the booster and its ONNX export decide alike at every split."""

from __future__ import annotations

import numpy as np
import onnxmltools
import onnxruntime as ort
import pytest
from lightgbm import Booster, LGBMClassifier
from onnxmltools.convert.common.data_types import FloatTensorType

from algorithms.lightgbm_export import float32_exact_booster, floor_to_float32


def _adjacent_float32_pair() -> tuple[np.float32, np.float32]:
    """Two neighbouring float32 values whose midpoint rounds *up* to the higher one."""
    low = np.float32(81.79999542236328)
    high = np.nextafter(low, np.float32(np.inf))
    midpoint = (float(low) + float(high)) / 2
    assert float(np.float32(midpoint)) == float(high)
    return low, high


def _onnx_probabilities(booster: Booster, matrix: np.ndarray) -> np.ndarray:
    onnx_model = onnxmltools.convert_lightgbm(
        booster, initial_types=[("input", FloatTensorType([None, matrix.shape[1]]))], zipmap=False, target_opset=15
    )
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["probabilities"], {"input": matrix})[0][:, 1], dtype=np.float64)


@pytest.fixture(scope="module")
def split_between_neighbours() -> tuple[Booster, np.ndarray]:
    """A booster that splits exactly between two adjacent float32 values, and its data."""
    low, high = _adjacent_float32_pair()
    rng = np.random.default_rng(4)
    feature = rng.choice(np.array([low, high], dtype=np.float32), size=400)
    noise = rng.normal(size=400).astype(np.float32)
    matrix = np.column_stack([feature, noise]).astype(np.float32)
    labels = (feature == high).astype(np.int64)
    classifier = LGBMClassifier(n_estimators=3, num_leaves=3, min_child_samples=5, verbose=-1, seed=1)
    return classifier.fit(matrix, labels).booster_, matrix


def test_rounding_to_nearest_breaks_parity_and_flooring_restores_it(
    split_between_neighbours: tuple[Booster, np.ndarray],
) -> None:
    booster, matrix = split_between_neighbours
    exact = float32_exact_booster(booster)

    assert np.max(np.abs(_onnx_probabilities(booster, matrix) - booster.predict(matrix))) > 1e-2
    np.testing.assert_array_equal(exact.predict(matrix), booster.predict(matrix))
    assert np.max(np.abs(_onnx_probabilities(exact, matrix) - exact.predict(matrix))) <= 1e-6


def test_floored_model_keeps_its_trees_and_loads_again(split_between_neighbours: tuple[Booster, np.ndarray]) -> None:
    booster, matrix = split_between_neighbours
    exact = float32_exact_booster(booster)
    reloaded = Booster(model_str=exact.model_to_string())

    assert exact.num_trees() == booster.num_trees()
    np.testing.assert_array_equal(reloaded.predict(matrix), exact.predict(matrix))
    thresholds = [
        node["threshold"] for tree in exact.dump_model()["tree_info"] for node in _split_nodes(tree["tree_structure"])
    ]
    assert thresholds
    assert all(float(np.float32(value)) == value for value in thresholds)


def _split_nodes(node: dict[str, object]) -> list[dict[str, object]]:
    if "split_index" not in node:
        return []
    left, right = node["left_child"], node["right_child"]
    assert isinstance(left, dict)
    assert isinstance(right, dict)
    return [node, *_split_nodes(left), *_split_nodes(right)]


@pytest.mark.parametrize("value", [81.79999923706056, 0.1, -0.1, 1e-35, 0.0, -3.5, 1e39, 2.0**-149])
def test_floor_is_the_largest_float32_not_above(value: float) -> None:
    floored = floor_to_float32(value)

    assert floored <= value
    assert float(np.float32(floored)) == floored
    with np.errstate(over="ignore"):
        above = np.nextafter(np.float32(floored), np.float32(np.inf))
    assert float(above) > value
