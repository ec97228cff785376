"""``POST /v1/score/{algorithm}``: answers, per-entity errors, and every bad input as a clear 4xx.

Every test runs against both engines (``client`` is parametrised: local, ray).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from warehouse.settings import Settings

LEVELS = {"low", "medium", "high", "critical"}


def _error_code(response_json: dict[str, object]) -> object:
    error = response_json["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "message"}
    return error["code"]


def test_scores_known_buildings_with_the_champion(client: httpx.Client) -> None:
    response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001", "B0000002"]})
    assert response.status_code == 200
    body = response.json()
    assert (body["algorithm"], body["model_name"], body["model_version"], body["alias"]) == (
        "fire_risk",
        "fire_risk",
        "1",
        "champion",
    )
    assert [result["entity_id"] for result in body["results"]] == ["B0000001", "B0000002"]
    for result in body["results"]:
        assert 0.0 <= result["score"] <= 1.0
        assert result["level"] in LEVELS
        assert result["warning"] == (result["level"] in {"high", "critical"})
        assert result["error"] is None


def test_unknown_building_is_answered_per_entity(client: httpx.Client) -> None:
    response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001", "B9999999"]})
    assert response.status_code == 200
    known, unknown = response.json()["results"]
    assert known["score"] is not None
    assert unknown["entity_id"] == "B9999999"
    assert unknown["score"] is None
    assert unknown["error"]["code"] == "entity_not_found"


def test_inline_features_score_like_the_online_lookup(client: httpx.Client, served_settings: Settings) -> None:
    from features.online import read_online_features
    from features.store import open_feature_store

    online = read_online_features(
        open_feature_store(served_settings),
        feature_service="fire_risk",
        entity_key="building_id",
        entity_ids=["B0000003"],
    )
    row = {name: (None if value != value else float(value)) for name, value in online.frame.iloc[0].items()}
    by_id = client.post("/v1/score/fire_risk", json={"entities": ["B0000003"]}).json()["results"][0]
    inline = client.post("/v1/score/fire_risk", json={"features": [row]})
    assert inline.status_code == 200
    result = inline.json()["results"][0]
    assert result["entity_id"] is None
    assert result["score"] == pytest.approx(by_id["score"], abs=1e-7)
    assert result["level"] == by_id["level"]


def test_unknown_algorithm_is_404(client: httpx.Client) -> None:
    response = client.post("/v1/score/no_such_algorithm", json={"entities": ["B0000001"]})
    assert response.status_code == 404
    assert _error_code(response.json()) == "algorithm_not_found"


def test_unknown_alias_is_404(client: httpx.Client) -> None:
    response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001"], "alias": "nobody"})
    assert response.status_code == 404
    assert _error_code(response.json()) == "model_not_found"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"entities": []}, "entities"),
        ({}, "exactly one"),
        ({"entities": ["B0000001"], "features": [{"x": 1.0}]}, "exactly one"),
        ({"entities": ["B0000001"], "surprise": 1}, "surprise"),
        ({"entities": "B0000001"}, "entities"),
        ({"entities": ["B0000001"], "alias": "bad alias!"}, "alias"),
    ],
)
def test_bad_bodies_are_422_with_a_reason(client: httpx.Client, payload: dict[str, object], fragment: str) -> None:
    response = client.post("/v1/score/fire_risk", json=payload)
    assert response.status_code == 422
    assert _error_code(response.json()) == "invalid_request"
    assert fragment in response.json()["error"]["message"]


def _online_row(settings: Settings, entity_id: str) -> dict[str, float | None]:
    from features.online import read_online_features
    from features.store import open_feature_store

    online = read_online_features(
        open_feature_store(settings), feature_service="fire_risk", entity_key="building_id", entity_ids=[entity_id]
    )
    return {name: (None if value != value else float(value)) for name, value in online.frame.iloc[0].items()}


@pytest.mark.parametrize(
    ("change", "column", "rule", "value"),
    [
        ({"floors": "three"}, "floors", "dtype('float64')", "three"),
        ({"floors": 0.0}, "floors", "greater_than_or_equal_to(1)", 0.0),
        ({"occupancy_rate": 1.5}, "occupancy_rate", "less_than_or_equal_to(1)", 1.5),
        ({"floors": None}, "floors", "not_nullable", None),
        ({"dry_days": "drop"}, "dry_days", "column_in_dataframe", None),
        ({"dry_dayz": 3.0}, "dry_dayz", "column_in_schema", 3.0),
    ],
)
def test_inline_rows_breaking_the_inference_schema_are_422_naming_column_rule_and_rows(
    client: httpx.Client,
    served_settings: Settings,
    change: dict[str, object],
    column: str,
    rule: str,
    value: object,
) -> None:
    good = _online_row(served_settings, "B0000004")
    bad = {name: row_value for name, row_value in (good | change).items() if row_value != "drop"}
    response = client.post("/v1/score/fire_risk", json={"features": [good, bad, good]})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "data_validation_failed"
    assert error["message"].startswith(f"fire_risk features failed validation: column {column!r} failed {rule}")
    assert error["failures"] == [{"column": column, "rule": rule, "count": 1, "examples": [{"row": 1, "value": value}]}]


def test_nan_where_a_feature_is_required_is_422(client: httpx.Client, served_settings: Settings) -> None:
    row = json.dumps({"features": [_online_row(served_settings, "B0000004") | {"floors": float("nan")}]})
    response = client.post("/v1/score/fire_risk", content=row, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["failures"][0] | {"examples": None} == {
        "column": "floors",
        "rule": "not_nullable",
        "count": 1,
        "examples": None,
    }


def test_malformed_json_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/score/fire_risk", content=b'{"entities": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert _error_code(response.json()) == "invalid_request"


def test_too_many_entities_is_422(client: httpx.Client, served_settings: Settings) -> None:
    limit = served_settings.max_entities_per_request
    response = client.post("/v1/score/fire_risk", json={"entities": [f"B{i:07d}" for i in range(limit + 1)]})
    assert response.status_code == 422
    assert "limit" in response.json()["error"]["message"]


def test_unknown_route_has_the_error_shape(client: httpx.Client) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert _error_code(response.json()) == "not_found"


def test_explain_answers_the_top_reasons(client: httpx.Client) -> None:
    response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001"], "explain": True})
    assert response.status_code == 200
    reasons = response.json()["results"][0]["reasons"]
    assert 1 <= len(reasons) <= 5
    contributions = [abs(reason["contribution"]) for reason in reasons]
    assert contributions == sorted(contributions, reverse=True)
    assert all(reason["feature"] and reason["text"] for reason in reasons)


def test_include_features_answers_the_values_scored_and_they_score_the_same_inline(client: httpx.Client) -> None:
    plain = client.post("/v1/score/fire_risk", json={"entities": ["B0000001"]}).json()["results"][0]
    assert "features" not in plain
    response = client.post("/v1/score/fire_risk", json={"entities": ["B0000001"], "include_features": True})
    assert response.status_code == 200
    result = response.json()["results"][0]
    features = result["features"]
    names = client.get("/v2/models/fire_risk").json()["parameters"]["feature_names"]
    assert list(features) == names
    assert all(value is None or isinstance(value, float) for value in features.values())
    inline = client.post("/v1/score/fire_risk", json={"features": [features], "include_features": True})
    assert inline.status_code == 200
    again = inline.json()["results"][0]
    assert again["score"] == pytest.approx(result["score"], abs=1e-7)
    assert again["features"] == features
