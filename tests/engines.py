"""The app served by either engine, over a copy of the prepared warehouse, called with an admin key;
and ``warehouse serve`` as a real server process (``server_url``). A plugin of ``tests/conftest.py``,
so that the HTTP tests of every package run on both engines with the same fixtures.

``client`` is parametrised by engine: ``local`` is the app in this process behind FastAPI's
TestClient; ``ray`` is the same app deployed on the session's Ray Serve (integration, needs Ray),
reached over HTTP. ``served_settings`` are the settings of the warehouse that ``client`` serves.
``engine_client`` is the same for one module's tests that change nothing (module scope).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.auth_helpers import caller_headers
from warehouse.api import create_app
from warehouse.settings import Settings

ENGINES = ["local", pytest.param("ray", marks=pytest.mark.integration)]
WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def wait_until_ready(client: httpx.Client, timeout_s: float = 300.0) -> None:
    """Poll readiness with a deadline; fail with the last answer if it never turns ready."""
    deadline = time.monotonic() + timeout_s
    while (response := client.get("/v2/health/ready")).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"not ready after {timeout_s} s: {response.status_code} {response.text}")
        time.sleep(0.05)


def wait_for_score(
    client: httpx.Client,
    check: Callable[[httpx.Response], bool],
    what: str,
    body: object,
    *,
    algorithm: str = "fire_risk",
    timeout_s: float = 30.0,
) -> httpx.Response:
    """Score ``body`` until the answer passes ``check`` (a governance change reaching a running server);
    fail with the last answer at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not check(response := client.post(f"/v1/score/{algorithm}", json=body)):
        if time.monotonic() > deadline:
            pytest.fail(f"never {what} within {timeout_s} s: {response.status_code} {response.text}")
        time.sleep(0.1)
    return response


def wait_for_score_status(
    client: httpx.Client, status: int, body: object, *, algorithm: str = "fire_risk", timeout_s: float = 30.0
) -> httpx.Response:
    """Score ``body`` until the answer's status is ``status``."""
    return wait_for_score(
        client,
        lambda response: response.status_code == status,
        f"answered {status}",
        body,
        algorithm=algorithm,
        timeout_s=timeout_s,
    )


@dataclass(frozen=True)
class RayServed:
    """A warehouse deployed as its own application on the session's Ray Serve."""

    base_url: str
    settings: Settings


@contextmanager
def ray_served(settings: Settings) -> Iterator[RayServed]:
    """Deploy the app for ``settings`` under its own name and route prefix; removed afterwards."""
    from serving.engines.ray import RayEngine

    name = f"test-{uuid.uuid4().hex[:8]}"
    with RayEngine(settings, app_name=name, route_prefix=f"/{name}").running() as base_url:
        yield RayServed(base_url=base_url, settings=settings)


@contextmanager
def serving(
    engine: str, settings: Settings, headers: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[httpx.Client]:
    """The app over ``settings`` (this test's own warehouse) served by ``engine``, ready, called with
    ``headers``: in this process for ``local``, its own deployment on the session's Serve for ``ray``."""
    if engine == "ray":
        request.getfixturevalue("ray_serve")
        with (
            ray_served(one_replica(settings.data_dir)) as served,
            httpx.Client(base_url=served.base_url, timeout=60, headers=headers) as client,
        ):
            wait_until_ready(client)
            yield client
        return
    with TestClient(create_app(settings), headers=headers) as test_client:
        wait_until_ready(test_client)
        yield test_client


def one_replica(data_dir: Path) -> Settings:
    """Settings for a Ray-served test warehouse: one replica of each deployment (a small shared machine),
    and Serve's proxy, should this deployment be the one to start it, on a free port."""
    return Settings(data_dir=data_dir, port=0, ray_min_replicas=1, ray_max_replicas=1)


@pytest.fixture(scope="session")
def ray_scoring_warehouse(
    ray_serve: None, prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RayServed]:
    """One read-only copy of the prepared warehouse on Ray Serve, shared by every scoring test."""
    root = tmp_path_factory.mktemp("ray-scoring") / "wh"
    shutil.copytree(prepared_warehouse, root)
    with ray_served(one_replica(root)) as served:
        yield served


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The serving engine under test."""
    name: str = request.param
    return name


@pytest.fixture
def served_settings(engine: str, request: pytest.FixtureRequest) -> Settings:
    """Settings of the warehouse that ``client`` serves."""
    if engine == "ray":
        served: RayServed = request.getfixturevalue("ray_scoring_warehouse")
        return served.settings
    settings: Settings = request.getfixturevalue("settings")
    return settings


@pytest.fixture
def client(engine: str, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A started app whose models are loaded, served by ``engine``."""
    if engine == "ray":
        served: RayServed = request.getfixturevalue("ray_scoring_warehouse")
        headers = caller_headers(served.settings, "admin")
        with httpx.Client(base_url=served.base_url, timeout=60, headers=headers) as http_client:
            wait_until_ready(http_client)
            yield http_client
        return
    admin_headers: dict[str, str] = request.getfixturevalue("admin_headers")
    with TestClient(create_app(request.getfixturevalue("settings")), headers=admin_headers) as test_client:
        wait_until_ready(test_client)
        yield test_client


@dataclass(frozen=True)
class EngineClient:
    """A client of the app served by one engine, called with an admin key, and the served warehouse's settings."""

    engine: str
    http: httpx.Client
    settings: Settings


@pytest.fixture(scope="module", params=ENGINES)
def engine_client(request: pytest.FixtureRequest) -> Iterator[EngineClient]:
    """The app served by each engine in turn, shared by one module's tests that change nothing."""
    if request.param == "ray":
        served: RayServed = request.getfixturevalue("ray_scoring_warehouse")
        headers = caller_headers(served.settings, "admin", name="module-admin")
        with httpx.Client(base_url=served.base_url, timeout=60, headers=headers) as http_client:
            wait_until_ready(http_client)
            yield EngineClient(engine="ray", http=http_client, settings=served.settings)
        return
    module_client: TestClient = request.getfixturevalue("module_client")
    yield EngineClient(engine="local", http=module_client, settings=request.getfixturevalue("module_settings"))


@pytest.fixture(scope="module")
def module_settings(prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a copy of the prepared warehouse shared by one module's read-only tests."""
    target = tmp_path_factory.mktemp("module") / "wh"
    shutil.copytree(prepared_warehouse, target)
    return Settings(data_dir=target)


@pytest.fixture(scope="module")
def module_admin_headers(module_settings: Settings) -> dict[str, str]:
    """Headers of an admin key over the module's warehouse."""
    return caller_headers(module_settings, "admin", name="module-admin")


@pytest.fixture(scope="module")
def module_client(module_settings: Settings, module_admin_headers: dict[str, str]) -> Iterator[TestClient]:
    """A started app shared by one module's tests that change nothing, called with an admin key."""
    with TestClient(create_app(module_settings), headers=module_admin_headers) as test_client:
        wait_until_ready(test_client)
        yield test_client


def _read_url(process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if match := re.search(r"at (http://[\d.]+:\d+) ", log.read_text(errors="replace")):
            return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"warehouse serve reported no address (exit code {process.poll()}): {log.read_text()}")


def _wait_ready(base_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    status = 0
    while time.monotonic() < deadline:
        try:
            status = httpx.get(f"{base_url}/v2/health/ready", timeout=5).status_code
        except httpx.TransportError:
            status = 0
        if status == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"never ready (last status {status})")


@pytest.fixture(scope="module")
def server_url(module_settings: Settings) -> Iterator[str]:
    """``warehouse serve --port 0`` as a real process over the module's warehouse; yields its base URL."""
    command = [WAREHOUSE, "--data-dir", str(module_settings.data_dir), "serve", "--port", "0"]
    log = module_settings.data_dir.parent / "serve.log"
    # The server's output goes to a file, so that a full pipe can never stall it.
    with log.open("wb") as sink, subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT) as process:
        try:
            base_url = _read_url(process, log, timeout_s=300)
            _wait_ready(base_url, timeout_s=300)
            yield base_url
        finally:
            process.terminate()
            process.wait(timeout=30)
