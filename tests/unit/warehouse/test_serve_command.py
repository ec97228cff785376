"""``warehouse serve`` as a real process: binds port 0, reports the port, turns ready, serves scores."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.auth_helpers import caller_headers
from warehouse.settings import Settings

WAREHOUSE = str(Path(sys.executable).with_name("warehouse"))


def _read_url(process: subprocess.Popen[str], timeout_s: float = 120) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := re.search(r"at (http://[\d.]+:\d+) ", line):
            return match.group(1)
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"warehouse serve reported no address (exit code {process.poll()})")


def _wait_ready(base_url: str, timeout_s: float = 120) -> list[int]:
    statuses: list[int] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            statuses.append(httpx.get(f"{base_url}/v2/health/ready", timeout=5).status_code)
        except httpx.TransportError:
            statuses.append(0)
        if statuses[-1] == 200:
            return statuses
        time.sleep(0.05)
    raise AssertionError(f"never ready: {statuses[-5:]}")


def test_serve_binds_a_free_port_and_serves(settings: Settings) -> None:
    command = [WAREHOUSE, "--data-dir", str(settings.data_dir), "serve", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            base_url = _read_url(process)
            statuses = _wait_ready(base_url)
            assert set(statuses) <= {0, 503, 200}
            body = {"entities": ["B0000001"]}
            anonymous = httpx.post(f"{base_url}/v1/score/fire_risk", json=body, timeout=30)
            headers = caller_headers(settings, "app", clearance="internal", grants=["fire_risk"])
            response = httpx.post(f"{base_url}/v1/score/fire_risk", json=body, headers=headers, timeout=30)
            assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthenticated")
            assert response.status_code == 200
            assert response.json()["results"][0]["level"] in {"low", "medium", "high", "critical"}
        finally:
            process.terminate()
            process.wait(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught, as a process should.
    assert process.returncode in (0, -signal.SIGTERM)
