"""The numpy-only scoring path: inline rows become the float32 model matrix directly, scored as frames are."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.engines import wait_until_ready
from warehouse.api import create_app
from warehouse.settings import Settings


@pytest.fixture
def client(settings: Settings, admin_headers: dict[str, str]) -> Iterator[TestClient]:
    """The app in this process (these tests read its model repository), called with an admin key."""
    with TestClient(create_app(settings), headers=admin_headers) as test_client:
        wait_until_ready(test_client)
        yield test_client


def _online_row(client: TestClient, entity_id: str) -> tuple[pd.DataFrame, dict[str, float | None]]:
    from features.online import read_online_features

    scoring = client.app.state.scoring  # type: ignore[attr-defined]  # Starlette app has state
    frame = read_online_features(
        scoring.feature_store(), feature_service="fire_risk", entity_key="building_id", entity_ids=[entity_id]
    ).frame
    row = {name: (None if value != value else float(value)) for name, value in frame.iloc[0].items()}
    return frame, row


def test_checked_rows_equal_the_frame_matrix_and_score_identically(client: TestClient) -> None:
    from serving.scoring import _checked_rows

    model = client.app.state.repository.get("fire_risk", "champion")  # type: ignore[attr-defined]
    frame, row = _online_row(client, "B0000004")
    shuffled = dict(reversed(list(row.items())))  # key order of a request row must not matter
    matrix = _checked_rows(model, [row, shuffled])
    assert matrix.dtype == np.float32
    assert matrix.shape == (2, len(model.metadata.feature_names))
    expected = model.feature_matrix(frame)
    np.testing.assert_array_equal(matrix[:1], expected)
    np.testing.assert_array_equal(matrix[1:], expected)
    assert np.isnan(matrix).any() == frame.isna().to_numpy().any()
    np.testing.assert_array_equal(model.score_matrix(matrix[:1]).probabilities, model.score(frame).probabilities)


def test_inline_request_builds_no_dataframe(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _frame, row = _online_row(client, "B0000005")
    expected = client.post("/v1/score/fire_risk", json={"features": [row]}).json()["results"][0]

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a DataFrame was built on the inline scoring path")

    monkeypatch.setattr(pd.DataFrame, "__init__", refuse)
    response = client.post("/v1/score/fire_risk", json={"features": [row, row]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [result["score"] for result in results] == [expected["score"]] * 2
    assert [result["level"] for result in results] == [expected["level"]] * 2


def test_entity_scores_equal_inline_scores_exactly(client: TestClient) -> None:
    _frame, row = _online_row(client, "B0000006")
    by_id = client.post("/v1/score/fire_risk", json={"entities": ["B0000006"], "explain": True}).json()["results"][0]
    inline = client.post("/v1/score/fire_risk", json={"features": [row], "explain": True}).json()["results"][0]
    assert inline["score"] == by_id["score"]
    assert (inline["level"], inline["warning"]) == (by_id["level"], by_id["warning"])
    assert inline["reasons"] == by_id["reasons"]
