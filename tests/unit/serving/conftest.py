"""A running app over a copy of the prepared warehouse, reached through FastAPI's TestClient with an admin key."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from warehouse.api import create_app
from warehouse.settings import Settings


def wait_until_ready(client: TestClient, timeout_s: float = 60.0) -> None:
    """Poll readiness with a deadline; fail with the last answer if it never turns ready."""
    deadline = time.monotonic() + timeout_s
    while (response := client.get("/v2/health/ready")).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"not ready after {timeout_s} s: {response.status_code} {response.text}")
        time.sleep(0.05)


@pytest.fixture
def client(settings: Settings, admin_headers: dict[str, str]) -> Iterator[TestClient]:
    """A started app (lifespan run) whose models are loaded, called with an admin key."""
    with TestClient(create_app(settings), headers=admin_headers) as test_client:
        wait_until_ready(test_client)
        yield test_client
