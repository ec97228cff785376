"""Where the Ray engine's extra latency over a plain Ray Serve deployment goes, measured piece by piece.

The Ray engine answers ``POST /v1/score`` as: Serve proxy -> ingress replica (the warehouse app:
authentication, request validation, scoring, response serialisation) -> model replica (a handle call,
``@serve.batch``) and back. A plain deployment has the proxy hop and the ONNX call only. This bench
times what the engine adds, one request at a time (the median of ``--requests`` calls each):
  * ``app_inline``    — the whole app in this process (ASGI, no socket) for one inline row, with ONNX
    Runtime in-process, and the median of each piece of its work (:data:`PIECES`, timed in place:
    cProfile sees only the event loop's thread, and the sync dependency and route run in workers);
  * ``hop_noop``      — a handle call to the model deployment that does no work (``load``), from a
    worker thread with ``.result()`` as the ingress makes it, and awaited from an event loop;
  * ``hop_predict``   — the handle call the ingress makes per request (``predict``, batched), for
    each ``--batch-wait-ms`` (one engine deployment each).
Ray is started in this process by :class:`serving.engines.ray.RayEngine`.
Run: ``.venv/bin/python bench/ingress_profile.py [--requests 500] [--batch-wait-ms 1,0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ray.serve.handle import DeploymentHandle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ray_systems import SCORE, wait_ready  # sibling bench modules, not a package
from score_latency import BenchWarehouse, prepare_bench_warehouse, timed


def median_ms(call: Callable[[], object], requests: int, warm_up: int = 50) -> float:
    """Median wall time of ``call`` in ms."""
    return statistics.median(timed(call, requests, warmup=warm_up))


async def median_ms_async(call: Callable[[], Awaitable[object]], requests: int, warm_up: int = 50) -> float:
    """Median wall time of awaiting ``call()`` in ms."""
    for _ in range(warm_up):
        await call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


PIECES = {
    "auth_cached": ("warehouse.identity", "IdentityStore", "cached_caller"),
    "auth_database": ("warehouse.identity", "IdentityStore", "authenticate"),
    "plan": ("serving.scoring", "ScoringService", "plan"),
    "classification": ("registry.classification", "ServedClassifications", "of"),
    "score_features": ("serving.scoring", "ScoringService", "score_features"),
    "inference_check": ("serving.scoring", None, "_checked_rows"),
    "onnx": ("serving.runtime", "OnnxModel", "predict_matrix"),
}
"""What the app does per inline request, by name: (module, class or None, function), timed in place."""


def time_pieces() -> dict[str, list[float]]:
    """Wrap each of :data:`PIECES` so that every call's wall time (ms) lands in the answer."""
    import functools
    import importlib

    timings: dict[str, list[float]] = {name: [] for name in PIECES}
    for name, (module_name, class_name, function_name) in PIECES.items():
        module = importlib.import_module(module_name)
        owner = getattr(module, class_name) if class_name else module
        original = getattr(owner, function_name)

        def timed(
            *args: object, _original: Callable[..., object] = original, _name: str = name, **kwargs: object
        ) -> object:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                timings[_name].append((time.perf_counter() - started) * 1000)

        setattr(owner, function_name, functools.wraps(original)(timed))
    return timings


def profile_app(bench: BenchWarehouse, requests: int) -> None:
    """The app's own work per inline request, in this process (the local engine's app; no Ray)."""
    import httpx

    from warehouse.api import create_app

    timings = time_pieces()
    app = create_app(bench.settings)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            app.state.repository.wait_for_startup(120)
            time.sleep(2)  # let the governance watcher read the revision once
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app", headers=bench.headers) as client:

                async def score() -> None:
                    (await client.post(SCORE, json={"features": [bench.row]})).raise_for_status()

                for samples in timings.values():
                    samples.clear()
                total = await median_ms_async(score, requests, warm_up=0)
        pieces = " ".join(
            f"{name}={statistics.median(samples):.3f}(n={len(samples)})" for name, samples in timings.items() if samples
        )
        print(f"app_inline p50_ms={total:7.3f} (ASGI in-process, no socket); pieces p50_ms: {pieces}", flush=True)

    asyncio.run(run())


def profile_hops(bench: BenchWarehouse, requests: int, batch_waits_ms: list[float]) -> None:
    """Handle calls from here to the engine's model deployment, as the ingress makes them."""
    from ray import serve

    from serving.engines.ray import RayEngine
    from serving.engines.ray_deployments import MODELS_DEPLOYMENT, multiplexed_id
    from warehouse.ray_runtime import ray_connection

    matrix = np.array([[np.nan if v is None else v for v in bench.ordered]], dtype=np.float32)
    with ray_connection(bench.settings):  # one Ray for every deployment below
        for wait_ms in batch_waits_ms:
            settings = bench.settings.model_copy(
                update={"ray_min_replicas": 1, "ray_max_replicas": 1, "port": 0, "ray_batch_wait_timeout_ms": wait_ms}
            )
            with RayEngine(settings, app_name="engine", route_prefix="/engine").running() as url:
                wait_ready(f"{url}/v2/health/ready")
                handle = serve.get_deployment_handle(MODELS_DEPLOYMENT, app_name="engine").options(
                    multiplexed_model_id=multiplexed_id("fire_risk", bench.version)
                )
                noop, predict, noop_async, predict_async = time_handle(handle, matrix, requests)
            print(
                f"batch_wait_ms={wait_ms:g} hop_noop p50_ms thread+result={noop:7.3f} awaited={noop_async:7.3f}  "
                f"hop_predict p50_ms thread+result={predict:7.3f} awaited={predict_async:7.3f}",
                flush=True,
            )


def time_handle(handle: DeploymentHandle[object], matrix: np.ndarray, requests: int) -> tuple[float, ...]:
    """Median ms of ``load`` and ``predict`` calls: ``.remote().result()`` in a worker thread, then awaited."""

    def argument_of(method: str) -> tuple[np.ndarray, ...]:
        return (matrix,) if method == "predict" else ()

    with ThreadPoolExecutor(1) as pool:  # the ingress calls from a sync route's worker thread

        def in_thread(method: str) -> Callable[[], object]:
            call, args = getattr(handle, method).remote, argument_of(method)
            return lambda: pool.submit(lambda: call(*args).result()).result()

        in_threads = [median_ms(in_thread(method), requests) for method in ("load", "predict")]

    async def awaited(method: str) -> float:
        call, args = getattr(handle, method).remote, argument_of(method)

        async def once() -> object:
            return await call(*args)

        return await median_ms_async(once, requests)

    return (*in_threads, *(asyncio.run(awaited(method)) for method in ("load", "predict")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--buildings", type=int, default=400)
    parser.add_argument("--batch-wait-ms", default="1,0", help="comma-separated ray_batch_wait_timeout_ms values")
    parser.add_argument("--no-ray", action="store_true", help="profile the app in-process only")
    args = parser.parse_args()
    with prepare_bench_warehouse(args.buildings, "bench-profile-") as bench:
        profile_app(bench, args.requests)
        if not args.no_ray:
            profile_hops(bench, args.requests, [float(value) for value in args.batch_wait_ms.split(",")])


if __name__ == "__main__":
    main()
