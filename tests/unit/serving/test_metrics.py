"""``/metrics`` in the Prometheus text format, counting what happens, on both engines."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.engines import EngineClient
from warehouse.api import create_app
from warehouse.settings import Settings


def _samples(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_parse_and_move_with_requests(engine_client: EngineClient) -> None:
    client = engine_client.http
    before = _samples(client)
    assert client.post("/v1/score/fire_risk", json={"entities": ["B0000001"]}).status_code == 200
    assert client.post("/v1/score/fire_risk", json={"entities": ["B0000001"], "alias": "nobody"}).status_code == 404
    after = _samples(client)

    route = {"route": "/v1/score/{algorithm}", "method": "POST"}
    for status in ("200", "404"):
        assert _value(after, "warehouse_http_requests_total", **route, status=status) == (
            _value(before, "warehouse_http_requests_total", **route, status=status) + 1
        )
    assert _value(after, "warehouse_http_request_duration_seconds_count", **route) == (
        _value(before, "warehouse_http_request_duration_seconds_count", **route) + 2
    )
    model = {"model": "fire_risk", "version": "1"}
    assert _value(after, "warehouse_model_inference_duration_seconds_count", **model) == (
        _value(before, "warehouse_model_inference_duration_seconds_count", **model) + 1
    )
    lookup = {"feature_service": "fire_risk"}
    assert _value(after, "warehouse_feature_lookup_duration_seconds_count", **lookup) == (
        _value(before, "warehouse_feature_lookup_duration_seconds_count", **lookup) + 1
    )
    error = {"code": "model_not_found", "status": "404"}
    assert (
        _value(after, "warehouse_http_errors_total", **error)
        == _value(before, "warehouse_http_errors_total", **error) + 1
    )
    assert _value(after, "warehouse_models_loaded") == 1.0


def test_v2_errors_are_counted_as_protocol_errors(engine_client: EngineClient) -> None:
    client = engine_client.http
    before = _samples(client)
    assert client.get("/v2/models/no_such_model").status_code == 404
    after = _samples(client)
    labels = {"code": "protocol_error", "status": "404"}
    assert (
        _value(after, "warehouse_http_errors_total", **labels)
        == _value(before, "warehouse_http_errors_total", **labels) + 1
    )


def test_two_apps_in_one_process_keep_their_own_metrics(
    module_client: TestClient, module_settings: Settings, module_admin_headers: dict[str, str]
) -> None:
    other = create_app(module_settings)  # a second app: no clash on metric names, its own counts
    assert other.state.metrics.registry is not module_client.app.state.metrics.registry  # type: ignore[attr-defined]
    samples = _samples(TestClient(other, headers=module_admin_headers))
    assert _value(samples, "warehouse_http_requests_total", route="/v1/score/{algorithm}",
                  method="POST", status="200") == 0.0  # fmt: skip
