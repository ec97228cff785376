"""Authentication and authorisation over HTTP on SQLite: the full endpoint x caller matrix and the rules.

The matrix runs once per module over a copy of the prepared warehouse (its fire-risk champion is
classified ``internal``); every cell asserts the status and the error code. The same checks run on
PostgreSQL in ``tests/integration/warehouse/test_identity_postgres.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.auth_helpers import caller_headers
from tests.engines import ENGINES, EngineClient, RayServed, wait_until_ready
from tests.unit.warehouse import identity_contract as contract
from warehouse.api import create_app
from warehouse.auth import OPEN_PATHS, check_declared_permissions, route_permissions, undeclared_routes
from warehouse.errors import ConfigurationError
from warehouse.pipeline import initialize
from warehouse.security import api_key_digest, api_key_matches, format_api_key, new_api_key, parse_api_key
from warehouse.settings import Settings

ROUTES = contract.routes()
CASES = contract.matrix_cases(ROUTES)


@dataclass(frozen=True)
class Matrix:
    """A client of the app served by one engine and the headers of every caller over its warehouse."""

    client: httpx.Client
    callers: dict[str, dict[str, str]]


@pytest.fixture(scope="module", params=ENGINES)
def matrix(
    request: pytest.FixtureRequest, prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    """The matrix's app on each engine in turn. Every allowed call in the matrix reads, or is refused
    before it changes anything, so the Ray engine's cells run on the session's shared Ray warehouse."""
    if request.param == "ray":
        served: RayServed = request.getfixturevalue("ray_scoring_warehouse")
        callers = contract.make_callers(served.settings)
        with httpx.Client(base_url=served.base_url, timeout=60) as ray_client:
            wait_until_ready(ray_client)
            yield Matrix(ray_client, callers)
        return
    root = tmp_path_factory.mktemp("matrix") / "wh"
    shutil.copytree(prepared_warehouse, root)
    settings = Settings(data_dir=root)
    with TestClient(create_app(settings)) as local_client:
        wait_until_ready(local_client)
        yield Matrix(local_client, contract.make_callers(settings))


@pytest.mark.parametrize(("case", "caller"), CASES, ids=[f"{c.method} {c.path} as {who}" for c, who in CASES])
def test_route_matrix(matrix: Matrix, case: contract.RouteCase, caller: str) -> None:
    contract.check_call(matrix.client, case, caller, matrix.callers[caller])


def test_the_matrix_covers_every_route_and_nothing_is_open_but_health_and_docs(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "wh"))
    declared = {key: permission for key, permission in route_permissions(app).items() if key[1] not in OPEN_PATHS}

    assert set(declared) == {case.key for case in ROUTES}
    assert all(permission is not None for permission in declared.values())
    assert undeclared_routes(app) == []
    assert len(CASES) == len(ROUTES) * len(contract.CALLERS)


def test_a_route_without_a_permission_fails_closed(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "wh"))

    @app.get("/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "data"}

    with pytest.raises(ConfigurationError, match="GET /v1/forgotten"):
        check_declared_permissions(app)


def test_health_and_documents_are_open_and_nothing_else(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    initialize(settings)
    client = TestClient(create_app(settings))

    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 503  # no lifespan here: open, and honest
    assert client.get("/openapi.json").json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert client.get("/docs").status_code == 200
    refused = client.get("/v2")  # a protocol route: the refusal is a bare string that says its code first
    assert (refused.status_code, refused.json()["error"].split(":")[0]) == (401, "unauthenticated")


def test_scoring_checks_grant_and_clearance_of_the_served_version(engine_client: EngineClient) -> None:
    client, settings = engine_client.http, engine_client.settings
    body = {"entities": ["B0000001"]}
    granted = caller_headers(settings, "app", clearance="internal", grants=["fire_risk"])
    ungranted = caller_headers(settings, "app", clearance="restricted", grants=["credit_supervision"])
    uncleared = caller_headers(settings, "app", clearance="public", grants=["fire_risk"])
    scientist = caller_headers(settings, "scientist", clearance="public")

    assert client.post("/v1/score/fire_risk", json=body, headers=granted).status_code == 200
    for headers, fragment in ((ungranted, "not granted"), (uncleared, "classified internal"), (scientist, "public")):
        refused = client.post("/v1/score/fire_risk", json=body, headers=headers)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
        assert fragment in refused.json()["error"]["message"]


def test_submit_may_not_classify_above_the_callers_clearance(engine_client: EngineClient) -> None:
    client, settings = engine_client.http, engine_client.settings
    scientist = caller_headers(settings, "scientist", clearance="internal")
    body = {"card": {"classification": "restricted"}}

    refused = client.post("/v1/models/fire_risk/versions/1/submit", json=body, headers=scientist)
    within = client.post("/v1/models/fire_risk/versions/1/submit", json={}, headers=scientist)

    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert (within.status_code, within.json()["error"]["code"]) == (409, "invalid_lifecycle_transition")


def test_key_lifecycle(tmp_path: Path) -> None:
    contract.check_key_lifecycle(Settings(data_dir=tmp_path / "wh"))


def test_refusals_are_audited(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    contract.check_refusals_are_audited(settings, TestClient(create_app(settings)))


def test_clearance_and_grants(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    contract.check_clearance_and_grants(settings, TestClient(create_app(settings)))


def test_principals_keys_and_grants_over_http(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    contract.check_identity_over_http(settings, TestClient(create_app(settings)))


def test_two_person_rule_across_principals(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "wh")
    contract.check_two_person_rule_across_principals(settings, TestClient(create_app(settings)))


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer wh_nothex0123456789_secret", "Bearer wh_0123456789abcdef_", "token"],
)
def test_malformed_authorization_is_401(tmp_path: Path, header: str) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path / "wh")))
    response = client.get("/v1/jobs", headers={"Authorization": header})

    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith('Bearer realm="warehouse"')


def test_key_format_and_digest() -> None:
    key_id, secret, salt = new_api_key()
    token = format_api_key(key_id, secret)
    digest = api_key_digest(key_id=key_id, secret=secret, salt=salt)

    assert token.startswith(f"wh_{key_id}_") and len(key_id) == 16
    assert parse_api_key(token) == (key_id, secret)
    assert api_key_matches(key_id=key_id, secret=secret, salt=salt, digest=digest)
    assert not api_key_matches(key_id=key_id, secret=secret + "x", salt=salt, digest=digest)
    assert api_key_digest(key_id=key_id, secret=secret, salt=new_api_key()[2]) != digest  # salted per key
    assert secret not in digest and len(digest) == 64
    assert parse_api_key("wh_0123456789ABCDEF_x") is None
