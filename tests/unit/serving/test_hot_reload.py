"""Governance reaches a running server without a restart, on both engines: promoting a version,
rolling the alias back and suspending the version change what is served within seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from registry.card import ModelCardUpdate
from tests.auth_helpers import caller_headers
from tests.engines import ENGINES, serving, wait_for_score
from warehouse.settings import Settings

SCORE = "/v1/score/fire_risk"
BODY = {"entities": ["B0000001"]}
CARD = ModelCardUpdate(
    intended_use="Triage of building fire inspections",
    owner_department="fire brigade",
    limitations="Synthetic training data",
    classification="internal",
)


@pytest.fixture(params=ENGINES)
def private_client(request: pytest.FixtureRequest, settings: Settings) -> Iterator[httpx.Client]:
    """The app over this test's own warehouse copy (governance changes stay in it), served by each engine."""
    headers = caller_headers(settings, "admin", name="ops")  # scores and moves aliases
    with serving(request.param, settings, headers, request) as client:
        yield client


def _register_second_version(settings: Settings) -> str:
    """Version 2 of fire_risk from version 1's training run, submitted and approved (not yet published)."""
    from registry.lifecycle import approve, submit
    from registry.models import register_version, resolve_version

    first = resolve_version(settings, model_name="fire_risk", alias_or_version="1")
    assert first.run_id is not None
    second = register_version(settings, run_id=first.run_id, model_name="fire_risk", actor="scientist")
    names = {"model_name": "fire_risk", "version": second.version}
    submit(settings, **names, actor="scientist", reason="retrained", card=CARD)
    approve(settings, **names, actor="reviewer", reason="looks right")
    return second.version


def _wait_for(
    client: httpx.Client, check: Callable[[httpx.Response], bool], what: str, timeout_s: float = 30.0
) -> httpx.Response:
    """Score until the answer passes ``check``."""
    return wait_for_score(client, check, what, BODY, timeout_s=timeout_s)


def _served_version(version: str) -> Callable[[httpx.Response], bool]:
    return lambda response: response.status_code == 200 and response.json()["model_version"] == version


def test_promote_rollback_and_suspend_reach_the_running_server(
    private_client: httpx.Client, settings: Settings
) -> None:
    client = private_client
    assert client.post(SCORE, json=BODY).json()["model_version"] == "1"
    second = _register_second_version(settings)

    promoted = client.post("/v1/models/fire_risk/aliases/champion", json={"version": second, "reason": "better"})
    assert (promoted.status_code, promoted.json()["to_version"]) == (200, second)
    _wait_for(client, _served_version(second), f"served version {second}")

    rolled_back = client.post("/v1/models/fire_risk/aliases/champion/rollback", json={})
    assert (rolled_back.status_code, rolled_back.json()["to_version"]) == (200, "1")
    _wait_for(client, _served_version("1"), "served version 1 again")

    step = "/v1/models/fire_risk/versions/1"
    assert client.post(f"{step}/suspend", json={"reason": "drift"}).status_code == 200
    refused = _wait_for(client, lambda response: response.status_code == 409, "refused the suspended version")
    assert refused.json()["error"]["code"] == "model_not_approved"
    assert client.post(f"{step}/reinstate", json={"reason": "fixed"}).status_code == 200
    _wait_for(client, _served_version("1"), "served the reinstated version")
