"""``warehouse serve`` as a real process: binds port 0, reports the port, turns ready, serves scores;
with ``--engine ray`` it also stops cleanly on SIGTERM and leaves none of the Ray processes it started."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(processes: list[psutil.Process], timeout_s: float = 60) -> list[str]:
    """Poll until every process has exited; answers the ones still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    while running := [p for p in processes if _alive(p)]:
        if time.monotonic() > deadline:
            return [str(p.pid) for p in running]
        time.sleep(0.2)
    return []


@pytest.mark.integration
def test_serve_with_the_ray_engine_stops_cleanly_on_sigterm(settings: Settings) -> None:
    command = [WAREHOUSE, "--data-dir", str(settings.data_dir), "serve", "--engine", "ray", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            base_url = _read_url(process, timeout_s=300)
            _wait_ready(base_url, timeout_s=300)
            started = psutil.Process(process.pid).children(recursive=True)
            names = [child.name() for child in started]
            headers = caller_headers(settings, "app", clearance="internal", grants=["fire_risk"])
            response = httpx.post(
                f"{base_url}/v1/score/fire_risk", json={"entities": ["B0000001"]}, headers=headers, timeout=30
            )
            assert response.status_code == 200
            assert response.json()["results"][0]["level"] in {"low", "medium", "high", "critical"}
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-2000:]
    assert "raylet" in names, names
    assert any(name.startswith("ray::") for name in names), names
    assert _wait_gone(started) == []


@pytest.mark.integration
def test_serve_with_the_ray_engine_joins_a_running_cluster_and_leaves_it_up(
    settings: Settings, ray_session: None
) -> None:
    import ray
    from ray import serve

    if not serve.status().proxies:  # Serve runs in the cluster before the server joins, so it is not the server's
        serve.start(http_options={"host": "127.0.0.1", "port": _free_port()})
    address = ray.get_runtime_context().gcs_address
    command = [WAREHOUSE, "--data-dir", str(settings.data_dir), "serve", "--engine", "ray", "--address", address]
    with subprocess.Popen(
        [*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            base_url = _read_url(process, timeout_s=300)
            _wait_ready(base_url, timeout_s=300)
            assert "warehouse" in serve.status().applications  # deployed into this session's cluster
            headers = caller_headers(settings, "app", clearance="internal", grants=["fire_risk"])
            response = httpx.post(
                f"{base_url}/v1/score/fire_risk", json={"entities": ["B0000001"]}, headers=headers, timeout=30
            )
            assert (response.status_code, response.json()["model_version"]) == (200, "1")
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output[-2000:]
    assert "warehouse" not in serve.status().applications
    assert ray.cluster_resources()["CPU"] > 0  # the cluster it joined is still up
