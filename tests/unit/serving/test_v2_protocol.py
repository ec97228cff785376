"""Open Inference Protocol v2 on both engines: metadata, readiness, inference equal to /v1, protocol errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.engines import EngineClient


def _features(engine_client: EngineClient, entity_id: str) -> dict[str, float | None]:
    from features.online import read_online_features
    from features.store import open_feature_store

    frame = read_online_features(
        open_feature_store(engine_client.settings),
        feature_service="fire_risk",
        entity_key="building_id",
        entity_ids=[entity_id],
    ).frame
    return {name: (None if value != value else float(value)) for name, value in frame.iloc[0].items()}


def _infer_body(engine_client: EngineClient, entity_ids: list[str], *, nested: bool = False) -> dict[str, object]:
    metadata = engine_client.http.get("/v2/models/fire_risk").json()
    names = metadata["parameters"]["feature_names"]
    rows = [[_features(engine_client, entity_id)[name] for name in names] for entity_id in entity_ids]
    data = rows if nested else [value for row in rows for value in row]
    tensor = {"name": metadata["inputs"][0]["name"], "shape": [len(rows), len(names)], "datatype": "FP32"}
    return {"id": "req-1", "inputs": [{**tensor, "data": data}]}


def test_model_metadata_describes_the_tensors(engine_client: EngineClient, module_client: TestClient) -> None:
    # Both engines serve a copy of the same prepared warehouse: the in-process app's model is the reference.
    model = module_client.app.state.repository.get("fire_risk", "champion")  # type: ignore[attr-defined]
    response = engine_client.http.get("/v2/models/fire_risk")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["platform"], body["versions"]) == ("fire_risk", "onnxruntime", ["1"])
    assert body["inputs"] == [
        {"name": model.metadata.onnx_input, "datatype": "FP32", "shape": [-1, len(model.metadata.feature_names)]}
    ]
    assert [(output["name"], output["datatype"]) for output in body["outputs"]] == [
        ("probability", "FP64"),
        ("level", "BYTES"),
        ("warning", "BOOL"),
    ]
    assert body["parameters"] == {"version": "1", "feature_names": model.metadata.feature_names}
    assert engine_client.http.get("/v2/models/fire_risk/versions/champion").json() == body
    assert engine_client.http.get("/v2/models/fire_risk/versions/1").json() == body


@pytest.mark.parametrize("path", ["/v2/models/fire_risk/ready", "/v2/models/fire_risk/versions/1/ready"])
def test_model_ready(engine_client: EngineClient, path: str) -> None:
    response = engine_client.http.get(path)
    assert (response.status_code, response.json()) == (200, {"name": "fire_risk", "ready": True})


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("path", ["/v2/models/fire_risk/infer", "/v2/models/fire_risk/versions/champion/infer"])
def test_infer_answers_what_v1_answers(engine_client: EngineClient, path: str, nested: bool) -> None:
    entity_ids = ["B0000001", "B0000002", "B0000003"]
    response = engine_client.http.post(path, json=_infer_body(engine_client, entity_ids, nested=nested))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("fire_risk", "1", "req-1")
    outputs = {output["name"]: output for output in body["outputs"]}
    assert {name: (output["datatype"], output["shape"]) for name, output in outputs.items()} == {
        "probability": ("FP64", [3]),
        "level": ("BYTES", [3]),
        "warning": ("BOOL", [3]),
    }
    v1 = engine_client.http.post("/v1/score/fire_risk", json={"entities": entity_ids}).json()["results"]
    assert outputs["probability"]["data"] == [result["score"] for result in v1]
    assert outputs["level"]["data"] == [result["level"] for result in v1]
    assert outputs["warning"]["data"] == [result["warning"] for result in v1]


def test_infer_answers_only_the_requested_outputs(engine_client: EngineClient) -> None:
    body = {**_infer_body(engine_client, ["B0000001"]), "outputs": [{"name": "level"}]}
    response = engine_client.http.post("/v2/models/fire_risk/versions/1/infer", json=body)
    assert response.status_code == 200
    assert [output["name"] for output in response.json()["outputs"]] == ["level"]


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/v2/models/no_such_model", 404, "no registered model"),
        ("/v2/models/fire_risk/versions/99", 404, "no version 99"),
        ("/v2/models/fire_risk/versions/nobody", 404, "no alias 'nobody'"),
        ("/v2/models/fire_risk/versions/bad%20alias!/ready", 404, "no version or alias"),
        ("/v2/models/no_such_model/ready", 404, "no registered model"),
    ],
)
def test_unknown_models_and_versions_are_protocol_404s(
    engine_client: EngineClient, path: str, status: int, fragment: str
) -> None:
    response = engine_client.http.get(path)
    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert fragment in response.json()["error"]


def _tensor(body: dict[str, object]) -> dict[str, object]:
    inputs = body["inputs"]
    assert isinstance(inputs, list)
    tensor = inputs[0]
    assert isinstance(tensor, dict)
    return tensor


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"shape": [2, 30]}, "values"),
        ({"shape": [1, 3]}, "shape"),
        ({"shape": [30]}, "shape"),
        ({"datatype": "INT64"}, "FP32 or FP64"),
        ({"name": "other"}, "exactly one input"),
        ({"data": ["x"] * 30}, "non-numeric"),
        ({"data": [True] * 30}, "non-numeric"),
        ({"data": [10**400] + [0.0] * 29}, "non-numeric"),
        ({"shape": "1x30"}, "shape"),
    ],
)
def test_bad_tensors_are_protocol_400s(engine_client: EngineClient, change: dict[str, object], fragment: str) -> None:
    body = _infer_body(engine_client, ["B0000001"])
    body["inputs"] = [{**_tensor(body), **change}]
    response = engine_client.http.post("/v2/models/fire_risk/infer", json=body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert fragment in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"inputs": [', "JSON"),
        (b'{"inputs": []}', "inputs"),
        (b'{"inputs": [{"name": "input"}]}', "shape"),
        (b'{"inputs": [], "surprise": 1}', "surprise"),
    ],
)
def test_bad_bodies_are_protocol_400s(engine_client: EngineClient, content: bytes, fragment: str) -> None:
    response = engine_client.http.post(
        "/v2/models/fire_risk/infer", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_unknown_output_is_400_and_unknown_model_infer_is_404(engine_client: EngineClient) -> None:
    body = {**_infer_body(engine_client, ["B0000001"]), "outputs": [{"name": "nonsense"}]}
    response = engine_client.http.post("/v2/models/fire_risk/infer", json=body)
    assert response.status_code == 400
    assert "nonsense" in response.json()["error"]
    response = engine_client.http.post("/v2/models/no_such_model/infer", json=_infer_body(engine_client, ["B0000001"]))
    assert (response.status_code, set(response.json())) == (404, {"error"})


@pytest.mark.parametrize(
    ("feature", "value", "rule"), [("floors", 0.0, "greater_than_or_equal_to(1)"), ("floors", None, "not_nullable")]
)
def test_values_breaking_the_inference_schema_are_422_naming_the_feature(
    engine_client: EngineClient, feature: str, value: float | None, rule: str
) -> None:
    body = _infer_body(engine_client, ["B0000001", "B0000002"], nested=True)
    names = engine_client.http.get("/v2/models/fire_risk").json()["parameters"]["feature_names"]
    tensor = _tensor(body)
    data = tensor["data"]
    assert isinstance(data, list)
    data[1][names.index(feature)] = value
    response = engine_client.http.post("/v2/models/fire_risk/infer", json=body)
    assert response.status_code == 422
    assert set(response.json()) == {"error"}
    assert f"column {feature!r} failed {rule} in 1 case(s), e.g. row 1" in response.json()["error"]
