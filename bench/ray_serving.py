"""The Ray engine against a plain Ray Serve deployment of the same ONNX model, measured in one run.

One local Ray (started and stopped by this script, files in its temporary data dir) and one Serve
HTTP proxy hold both applications, each with one replica per deployment at 0.25 CPU:
  * ``plain_serve_ort`` — the floor: one deployment holding an ONNX Runtime session, JSON rows in,
    probabilities out, with the same ``@serve.batch`` settings as the engine;
  * ``ray_engine``      — the warehouse app (``warehouse serve --engine ray``): ingress running the
    FastAPI app, model replicas multiplexed by version and batched; features inline.
For each, p50/p99 latency and throughput at 1, 8 and 32 connections, then the ratios.
With ``--kill``, the engine is deployed again with two replicas per deployment and, under load at
8 connections, one model replica and then one ingress replica are killed (SIGKILL); the errors seen
by the clients are counted.
Run: ``.venv/bin/python bench/ray_serving.py [--requests 1000] [--kill]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import Result, run_load  # sibling bench modules, not a package
from score_latency import prepare_bench_warehouse

if TYPE_CHECKING:
    from warehouse.settings import Settings

CONNECTIONS = (1, 8, 32)
SCORE = "/v1/score/fire_risk"


def plain_deployment(onnx_path: str, output_name: str, max_batch_size: int, batch_wait_timeout_s: float) -> object:
    """A minimal Ray Serve deployment of the ONNX file (the baseline), bound and ready for ``serve.run``."""
    import onnxruntime as ort
    from ray import serve
    from starlette.requests import Request

    @serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=2 * max_batch_size)
    class PlainOnnx:
        def __init__(self) -> None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self.session = ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
            self.input_name = self.session.get_inputs()[0].name

        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_timeout_s)
        async def predict(self, matrices: list[np.ndarray]) -> list[np.ndarray]:
            (output,) = self.session.run([output_name], {self.input_name: np.concatenate(matrices)})
            scores = np.asarray(output)[:, -1]
            return np.split(scores, np.cumsum([len(matrix) for matrix in matrices])[:-1])

        async def __call__(self, request: Request) -> dict[str, list[float]]:
            rows = (await request.json())["rows"]
            matrix = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float32)
            return {"scores": (await self.predict(matrix)).tolist()}

    return PlainOnnx.bind()


def measure(name: str, url: str, body: object, requests: int, headers: dict[str, str] | None = None) -> list[Result]:
    results = []
    for connections in CONNECTIONS:
        result = asyncio.run(run_load(url, body, connections=connections, requests=requests, headers=headers))
        result.system = name
        print(
            f"system={name:<16} conns={connections:<2} p50_ms={result.p50_ms:7.3f} p99_ms={result.p99_ms:8.3f} "
            f"rps={result.rps:7.1f} errors={result.errors}",
            flush=True,
        )
        results.append(result)
    return results


def _replica_process(app_name: str, deployment: str) -> psutil.Process:
    """A live replica process of ``deployment`` in ``app_name``, among this script's own descendants."""
    title = f"ray::ServeReplica:{app_name}:{deployment}"
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if child.cmdline()[:1] == [title]:
                return child
        except psutil.NoSuchProcess:
            continue
    raise RuntimeError(f"no process {title}")


def kill_under_load(settings: Settings, row: dict[str, float | None], requests: int, headers: dict[str, str]) -> None:
    """Deploy the engine with two replicas per deployment and kill one replica of each under load."""
    from ray import serve

    from serving.engines.ray import build_application

    ha_settings = settings.model_copy(update={"ray_min_replicas": 2, "ray_max_replicas": 2})
    app_name = f"bench-ha-{uuid.uuid4().hex[:6]}"
    serve.run(build_application(ha_settings), name=app_name, route_prefix=f"/{app_name}")
    url = f"{_proxy_url()}/{app_name}{SCORE}"
    for deployment in ("warehouse-models", "warehouse-ingress"):
        victim = _replica_process(app_name, deployment)
        killed: list[int] = []

        def kill_at_quarter(done: int, victim: psutil.Process = victim, killed: list[int] = killed) -> None:
            if done >= requests // 4 and not killed:
                killed.append(victim.pid)
                os.kill(victim.pid, signal.SIGKILL)

        result = asyncio.run(
            run_load(
                url, {"features": [row]}, connections=8, requests=requests, headers=headers, on_progress=kill_at_quarter
            )
        )
        print(
            f"kill {deployment} replica pid={killed} under load: requests={requests} errors={result.errors} "
            f"statuses={dict(result.statuses)} p99_ms={result.p99_ms:.1f}",
            flush=True,
        )
    serve.delete(app_name)


def _proxy_url() -> str:
    from ray.serve.context import _get_global_client

    client = _get_global_client()
    assert client is not None
    return f"http://127.0.0.1:{client.http_config.port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per system and connection count")
    parser.add_argument("--buildings", type=int, default=400)
    parser.add_argument("--kill", action="store_true", help="also kill replicas under load and count the errors")
    args = parser.parse_args()
    with prepare_bench_warehouse(args.buildings, "bench-ray-") as bench:
        from ray import serve

        from serving.engines.ray import RayEngine

        settings = bench.settings.model_copy(update={"ray_min_replicas": 1, "ray_max_replicas": 1, "port": 0})
        results: dict[str, list[Result]] = {}
        with RayEngine(settings, app_name="engine", route_prefix="/engine").running() as engine_url:
            plain = plain_deployment(
                str(bench.artifact.onnx_path),
                bench.artifact.metadata.onnx_output,
                settings.ray_max_batch_size,
                settings.ray_batch_wait_timeout_ms / 1000,
            )
            serve.run(plain, name="plain", route_prefix="/plain")  # type: ignore[arg-type]
            _wait_ready(f"{engine_url}/v2/health/ready")
            results["plain"] = measure(
                "plain_serve_ort", f"{_proxy_url()}/plain", {"rows": [bench.ordered]}, args.requests
            )
            results["engine"] = measure(
                "ray_engine", f"{engine_url}{SCORE}", {"features": [bench.row]}, args.requests, bench.headers
            )
            serve.delete("plain")
            _print_ratios(results)
            if args.kill:
                kill_under_load(settings, bench.row, args.requests, bench.headers)


def _wait_ready(url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while httpx.get(url, timeout=10).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready within {timeout_s} s")
        time.sleep(0.2)


def _print_ratios(results: dict[str, list[Result]]) -> None:
    for plain, engine in zip(results["plain"], results["engine"], strict=True):
        print(
            f"ratio conns={engine.connections:<2} engine_p50/plain_p50={engine.p50_ms / plain.p50_ms:.2f} "
            f"engine_p99/plain_p99={engine.p99_ms / plain.p99_ms:.2f} "
            f"engine_rps/plain_rps={engine.rps / plain.rps:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
