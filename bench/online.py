"""Online serving against its peers, measured in one run on the same model and machine (issue #7).

Systems (the load generator runs in this process):
  * ``bare_fastapi_ort``    — bare FastAPI + ONNX Runtime in-process, the floor (``bench/bare_fastapi_app.py``);
  * ``mlflow_serve``        — ``mlflow models serve`` of the same registered ONNX model;
  * ``plain_serve``         — a plain Ray Serve deployment of the ONNX file, one request per call;
  * ``plain_serve_batched`` — the same with the engine's ``@serve.batch`` settings;
  * ``local_inline`` / ``local_entity`` / ``local_v2_infer`` — the warehouse's local engine with
    features inline, with an entity id (Feast online lookup), and on the Open Inference Protocol route;
  * ``ray_inline`` / ``ray_entity`` — the warehouse's Ray engine, features inline and by entity id;
  * ``ray_held_inline`` / ``ray_held_entity`` — the same with the model held by the ingress replica
    (``ray_ingress_model_max_bytes`` above its size: no hop to a model replica, no batching).
The first two and the local engine are server subprocesses; Ray is started in this process by
:class:`serving.engines.ray.RayEngine` (files in the bench warehouse's data dir, replicas at
fractional CPUs) and holds the plain deployments and the engine behind one Serve proxy.
Each row prints p50/p99 latency, throughput and errors at 1, 8 and 32 connections; then every
target ratio of the issue with its target, PASS or MISS, and the Ray engine's p50 difference in ms.
With ``--kill``, replicas of a two-replica engine are killed under load (``bench/_ray_systems.py``).
Run: ``.venv/bin/python bench/online.py [--requests 1000] [--systems bare,mlflow,local,ray] [--kill]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import Result, run_load  # sibling bench modules, not a package
from _ray_systems import SCORE, kill_under_load, plain_deployment, proxy_url, wait_ready
from score_latency import BenchWarehouse, free_port, prepare_bench_warehouse, server

if TYPE_CHECKING:
    from warehouse.settings import Settings

CONNECTIONS = (1, 8, 32)
INGRESS_HELD_BYTES = 64 << 20
"""``ray_held_*``: the Ray engine with ``ray_ingress_model_max_bytes`` above the bench model's size."""
SYSTEMS = ("bare", "mlflow", "local", "ray")
Results = dict[str, dict[int, Result]]


def measure(
    results: Results, name: str, url: str, body: object, requests: int, headers: dict[str, str] | None = None
) -> None:
    """Load ``url`` at each connection count and print one line per count."""
    results[name] = {}
    for connections in CONNECTIONS:
        load = run_load(url, body, connections=connections, requests=requests, headers=headers or {}, timeout_s=30)
        result = asyncio.run(load)
        result.system = name
        print(
            f"system={name:<19} conns={connections:<2} p50_ms={result.p50_ms:7.3f} p99_ms={result.p99_ms:8.3f} "
            f"rps={result.rps:7.1f} errors={result.errors}",
            flush=True,
        )
        results[name][connections] = result


def measure_bare(results: Results, bench: BenchWarehouse, requests: int) -> None:
    """The floor: bare FastAPI + ONNX Runtime under uvicorn."""
    port = free_port()
    env = {"BENCH_ONNX_PATH": str(bench.artifact.onnx_path), "BENCH_ONNX_OUTPUT": bench.artifact.metadata.onnx_output}
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_fastapi_app:create_app", "--no-access-log"]
    with server([*command, "--port", str(port)], port, env, "/docs") as base:
        measure(results, "bare_fastapi_ort", f"{base}/predict", {"rows": [bench.ordered]}, requests)


def measure_mlflow(results: Results, bench: BenchWarehouse, requests: int) -> None:
    """``mlflow models serve`` of the registered champion."""
    port = free_port()
    venv_bin = Path(sys.executable).parent
    command = [
        *(str(venv_bin / "mlflow"), "models", "serve", "-m", f"models:/fire_risk/{bench.version}"),
        *("--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)),
    ]
    env = {
        "PATH": str(venv_bin) + os.pathsep + os.environ.get("PATH", ""),
        "MLFLOW_TRACKING_URI": bench.settings.mlflow_uri,
    }
    with server(command, port, env, "/ping") as base:
        measure(results, "mlflow_serve", f"{base}/invocations", {"inputs": [bench.ordered]}, requests)


def measure_local(results: Results, bench: BenchWarehouse, requests: int) -> None:
    """The local engine (``warehouse serve``): inline features, entity id, and the v2 route."""
    port = free_port()
    command = [sys.executable, "-m", "warehouse", "--data-dir", str(bench.settings.data_dir), "serve"]
    with server([*command, "--port", str(port)], port, {}, "/v2/health/ready") as base:
        measure_engine(results, "local", base, bench, requests)
        v2 = f"{base}/v2/models/fire_risk/infer"
        measure(results, "local_v2_infer", v2, _v2_body(bench), requests, bench.headers)


def measure_engine(results: Results, engine: str, base: str, bench: BenchWarehouse, requests: int) -> None:
    """One engine with features inline and with the Feast online lookup of an entity id."""
    measure(results, f"{engine}_inline", f"{base}{SCORE}", {"features": [bench.row]}, requests, bench.headers)
    measure(results, f"{engine}_entity", f"{base}{SCORE}", {"entities": ["B0000001"]}, requests, bench.headers)


def measure_ray(results: Results, bench: BenchWarehouse, requests: int, *, kill: bool) -> None:
    """Plain Ray Serve (unbatched and batched) and the Ray engine, in one Ray started here."""
    from ray import serve

    from serving.engines.ray import RayEngine

    settings = bench.settings.model_copy(update={"ray_min_replicas": 1, "ray_max_replicas": 1, "port": 0})
    with RayEngine(settings, app_name="engine", route_prefix="/engine").running() as engine_url:
        wait_ready(f"{engine_url}/v2/health/ready")
        with _plain_app("plain", bench, settings, batched=False) as plain_url:
            measure(results, "plain_serve", plain_url, {"rows": [bench.ordered]}, requests)
        with _plain_app("plain-batched", bench, settings, batched=True) as plain_url:
            measure(results, "plain_serve_batched", plain_url, {"rows": [bench.ordered]}, requests)
        measure_engine(results, "ray", engine_url, bench, requests)
        serve.delete("engine")
        held = settings.model_copy(update={"ray_ingress_model_max_bytes": INGRESS_HELD_BYTES})
        with RayEngine(held, app_name="engine-held", route_prefix="/engine-held").running() as held_url:
            wait_ready(f"{held_url}/v2/health/ready")
            measure_engine(results, "ray_held", held_url, bench, requests)
        if kill:
            kill_under_load(settings, bench.row, requests, bench.headers)


@contextmanager
def _plain_app(name: str, bench: BenchWarehouse, settings: Settings, *, batched: bool) -> Iterator[str]:
    from ray import serve

    batching = (settings.ray_max_batch_size, settings.ray_batch_wait_timeout_ms / 1000) if batched else None
    app = plain_deployment(
        str(bench.artifact.onnx_path),
        bench.artifact.metadata.onnx_output,
        batching=batching,
        max_ongoing_requests=2 * settings.ray_max_batch_size,
    )
    serve.run(app, name=name, route_prefix=f"/{name}")
    try:
        yield f"{proxy_url()}/{name}"
    finally:
        serve.delete(name)


def _v2_body(bench: BenchWarehouse) -> dict[str, object]:
    """The bench building as an Open Inference Protocol request (missing values as null)."""
    tensor = {"name": bench.artifact.metadata.onnx_input, "shape": [1, len(bench.ordered)], "datatype": "FP32"}
    return {"inputs": [{**tensor, "data": bench.ordered}]}


@dataclass(frozen=True)
class Target:
    """One ratio the issue sets: ``system``'s ``metric`` over ``baseline``'s, at ``connections``."""

    label: str
    system: str
    baseline: str
    metric: str
    connections: int
    bound: float
    at_least: bool


TARGETS = (
    *(Target("local rps / mlflow rps", "local_inline", "mlflow_serve", "rps", c, 10, True) for c in CONNECTIONS),
    Target("local inline p50 / bare p50", "local_inline", "bare_fastapi_ort", "p50_ms", 1, 2, False),
    *(Target("ray p50 - plain p50, ms", "ray_inline", "plain_serve", "p50_diff", c, 1.5, False) for c in CONNECTIONS),
    Target("ray rps / plain Serve rps (batching)", "ray_inline", "plain_serve", "rps", 32, 2, True),
    *(
        Target("ray held p50 - plain p50, ms", "ray_held_inline", "plain_serve", "p50_diff", c, 1.5, False)
        for c in CONNECTIONS
    ),
    Target("ray held rps / plain Serve rps", "ray_held_inline", "plain_serve", "rps", 32, 2, True),
)


def print_targets(results: Results) -> None:
    """Each target the run has both systems for: value, target, PASS or MISS (and by how much)."""
    for target in TARGETS:
        if target.system not in results or target.baseline not in results:
            continue
        mine, theirs = results[target.system][target.connections], results[target.baseline][target.connections]
        if target.metric == "p50_diff":
            value = mine.p50_ms - theirs.p50_ms
        else:
            value = getattr(mine, target.metric) / getattr(theirs, target.metric)
        passed = value >= target.bound if target.at_least else value <= target.bound
        sign = ">=" if target.at_least else "<="
        verdict = "PASS" if passed else f"MISS by {abs(value - target.bound):.2f}"
        print(
            f"target conns={target.connections:<2} {target.label:<37} = {value:6.2f} (target {sign} {target.bound:g}) "
            f"{verdict}",
            flush=True,
        )
    for system in ("ray_inline", "ray_entity", "ray_held_inline", "ray_held_entity"):
        if system in results and "plain_serve" in results:
            ratios = " ".join(
                f"conns={c}:{results[system][c].p50_ms / results['plain_serve'][c].p50_ms:.2f}x/"
                f"{results[system][c].rps / results['plain_serve'][c].rps:.2f}x"
                for c in CONNECTIONS
            )
            print(f"info {system} vs plain_serve p50/rps ratios: {ratios}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per system and connection count")
    parser.add_argument("--buildings", type=int, default=400)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--kill", action="store_true", help="also kill Ray engine replicas under load, count errors")
    args = parser.parse_args()
    systems = set(args.systems.split(","))
    if unknown := systems - set(SYSTEMS):
        parser.error(f"unknown systems {sorted(unknown)}; choose from {','.join(SYSTEMS)}")
    results: Results = {}
    with prepare_bench_warehouse(args.buildings, "bench-online-") as bench:
        if "bare" in systems:
            measure_bare(results, bench, args.requests)
        if "mlflow" in systems:
            measure_mlflow(results, bench, args.requests)
        if "local" in systems:
            measure_local(results, bench, args.requests)
        if "ray" in systems or args.kill:
            measure_ray(results, bench, args.requests, kill=args.kill)
    print_targets(results)


if __name__ == "__main__":
    main()
