"""Reason codes: the top-k contributions of each row, in words."""

from __future__ import annotations

import numpy as np

from algorithms.reasons import reason_text, top_reasons


def test_top_reasons_are_the_largest_absolute_contributions_in_order() -> None:
    contributions = np.array([[0.1, -0.9, 0.5, 0.0, -2.0], [0.0, 0.0, 0.3, 0.0, -1.0]])  # last column: expected value
    matrix = np.array([[7.0, np.nan, 7.65, 2.0], [1.0, 0.0, 3.0, 4.0]], dtype=np.float32)
    names = ["faults", "age", "load", "unused"]
    descriptions = {"faults": "Sensor faults in the last 30 days", "load": "Peak load / rated capacity"}

    first, second = top_reasons(contributions, matrix, names, descriptions, top_k=2)

    assert [reason.feature for reason in first] == ["age", "load"]
    assert first[0].value is None
    assert first[0].text == "age: missing (lowers risk)"
    assert first[1].value == 7.65  # the decimal the float32 input stands for
    assert first[1].text == "Peak load / rated capacity: 7.65 (raises risk)"
    assert [reason.feature for reason in second] == ["load"]  # zero contributions are no reason


def test_reason_text_shows_counts_as_integers() -> None:
    assert (
        reason_text("Sensor faults in the last 30 days", 7.0, 0.4)
        == "Sensor faults in the last 30 days: 7 (raises risk)"
    )
    assert reason_text("Years since registration", 12.5, -0.2) == "Years since registration: 12.5 (lowers risk)"
