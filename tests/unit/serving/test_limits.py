"""Request limits: a body over max_request_bytes is 413 on both engines; past request_timeout_s, 504."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from serving.limits import RequestLimitsMiddleware
from tests.auth_helpers import caller_headers
from tests.engines import ENGINES, one_replica, ray_served, wait_until_ready
from warehouse.api import create_app
from warehouse.settings import Settings

SMALL_BODY = {"max_request_bytes": 2_000}


@pytest.fixture(scope="module", params=ENGINES)
def small_body_client(
    request: pytest.FixtureRequest, prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """The app, served by each engine, accepting request bodies of at most 2,000 bytes."""
    root = tmp_path_factory.mktemp(f"limits-{request.param}") / "wh"
    shutil.copytree(prepared_warehouse, root)
    if request.param == "ray":
        request.getfixturevalue("ray_serve")
        with ray_served(one_replica(root).model_copy(update=SMALL_BODY)) as served:
            headers = caller_headers(served.settings, "admin")
            with httpx.Client(base_url=served.base_url, timeout=60, headers=headers) as client:
                wait_until_ready(client)
                yield client
        return
    settings = Settings(data_dir=root, **SMALL_BODY)
    with TestClient(create_app(settings), headers=caller_headers(settings, "admin")) as client:
        wait_until_ready(client)
        yield client


def _assert_too_large(response_json: dict[str, object]) -> None:
    error = response_json["error"]
    assert isinstance(error, dict)
    assert error["code"] == "payload_too_large"
    assert "2000" in str(error["message"])


def test_oversized_body_is_413(small_body_client: httpx.Client) -> None:
    entities = [f"B{i:07d}" for i in range(300)]  # about 4 kB of JSON
    response = small_body_client.post("/v1/score/fire_risk", json={"entities": entities})
    assert response.status_code == 413
    _assert_too_large(response.json())


def test_oversized_streamed_body_is_413(small_body_client: httpx.Client) -> None:
    chunks = (b'{"entities": [' + b'"B0000001",' * 100, b'"B0000001"' * 100 + b"]}")  # no Content-Length
    response = small_body_client.post(
        "/v1/score/fire_risk", content=iter(chunks), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    _assert_too_large(response.json())


def test_body_under_the_limit_is_served(small_body_client: httpx.Client) -> None:
    response = small_body_client.post("/v1/score/fire_risk", json={"entities": ["B0000001"]})
    assert response.status_code == 200
    assert response.json()["results"][0]["entity_id"] == "B0000001"


def test_request_past_the_time_limit_is_504() -> None:
    never = asyncio.Event()

    async def stuck_app(scope: object, receive: object, send: object) -> None:
        await never.wait()  # never set: the limit has to answer

    async def call() -> list[dict[str, object]]:
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        middleware = RequestLimitsMiddleware(stuck_app, max_request_bytes=100, request_timeout_s=0.05)
        await middleware({"type": "http", "method": "GET", "path": "/x", "headers": []}, receive, send)  # type: ignore[arg-type]
        return sent

    start, body = asyncio.run(call())
    assert (start["type"], start["status"]) == ("http.response.start", 504)
    assert body["body"] == b'{"error": {"code": "request_timeout", "message": "the request took longer than 0.05 s"}}'
