"""A running app over a copy of the prepared warehouse: through FastAPI's TestClient, or as a real server process."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from warehouse.api import create_app
from warehouse.settings import Settings

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def wait_until_ready(client: TestClient, timeout_s: float = 300.0) -> None:
    """Poll readiness with a deadline; fail with the last answer if it never turns ready."""
    deadline = time.monotonic() + timeout_s
    while (response := client.get("/v2/health/ready")).status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"not ready after {timeout_s} s: {response.status_code} {response.text}")
        time.sleep(0.05)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A started app (lifespan run) whose models are loaded."""
    with TestClient(create_app(settings)) as test_client:
        wait_until_ready(test_client)
        yield test_client


@pytest.fixture(scope="module")
def module_settings(prepared_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a copy of the prepared warehouse shared by one module's read-only tests."""
    target = tmp_path_factory.mktemp("module") / "wh"
    shutil.copytree(prepared_warehouse, target)
    return Settings(data_dir=target)


@pytest.fixture(scope="module")
def module_client(module_settings: Settings) -> Iterator[TestClient]:
    """A started app shared by one module's tests that change nothing."""
    with TestClient(create_app(module_settings)) as test_client:
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
