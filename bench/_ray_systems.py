"""The Ray side of the online bench: a plain Ray Serve deployment (the Ray floor) and replica kills.

Used by ``bench/online.py`` inside a Ray that :class:`serving.engines.ray.RayEngine` started in the
bench's data dir (this module never starts or stops Ray itself).
  * :func:`plain_deployment` — what one writes with Ray Serve alone: one deployment holding an ONNX
    Runtime session, JSON rows in, probabilities out; with ``batching``, the same ``@serve.batch``
    settings as the engine's model replicas.
  * :func:`kill_under_load` — the engine deployed again with two replicas per deployment; under load at
    8 connections one model replica and then one ingress replica are killed (SIGKILL) and the errors
    seen by the clients are counted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from typing import TYPE_CHECKING

import httpx
import numpy as np
import psutil

from _load import run_load  # sibling bench module, not a package

if TYPE_CHECKING:
    from ray.serve import Application

    from warehouse.settings import Settings

SCORE = "/v1/score/fire_risk"
PLAIN_NUM_CPUS = 0.25
"""CPUs of the plain deployment's replica (the engine's replicas take ``ray_replica_num_cpus``)."""


def plain_deployment(
    onnx_path: str, output_name: str, *, batching: tuple[int, float] | None, max_ongoing_requests: int
) -> Application:
    """A minimal Ray Serve deployment of the ONNX file, bound for ``serve.run``.

    ``batching`` is ``(max_batch_size, batch_wait_timeout_s)`` for ``@serve.batch``; None scores
    each request on its own.
    """
    import onnxruntime as ort
    from ray import serve
    from starlette.requests import Request

    def open_session() -> tuple[ort.InferenceSession, str]:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
        return session, session.get_inputs()[0].name

    def matrix_of(rows: list[list[float | None]]) -> np.ndarray:
        return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float32)

    options = {"ray_actor_options": {"num_cpus": PLAIN_NUM_CPUS}, "max_ongoing_requests": max_ongoing_requests}

    @serve.deployment(**options)
    class PlainOnnx:
        def __init__(self) -> None:
            self.session, self.input_name = open_session()

        async def __call__(self, request: Request) -> dict[str, list[float]]:
            matrix = matrix_of((await request.json())["rows"])
            (output,) = self.session.run([output_name], {self.input_name: matrix})
            return {"scores": np.asarray(output)[:, -1].tolist()}

    if batching is None:
        return PlainOnnx.bind()
    max_batch_size, batch_wait_timeout_s = batching

    @serve.deployment(**options)
    class PlainBatchedOnnx:
        def __init__(self) -> None:
            self.session, self.input_name = open_session()

        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_timeout_s)
        async def predict(self, matrices: list[np.ndarray]) -> list[np.ndarray]:
            (output,) = self.session.run([output_name], {self.input_name: np.concatenate(matrices)})
            scores = np.asarray(output)[:, -1]
            return np.split(scores, np.cumsum([len(matrix) for matrix in matrices])[:-1])

        async def __call__(self, request: Request) -> dict[str, list[float]]:
            return {"scores": (await self.predict(matrix_of((await request.json())["rows"]))).tolist()}

    return PlainBatchedOnnx.bind()


def proxy_url() -> str:
    """The base URL of the running Serve HTTP proxy."""
    from ray.serve.context import _get_global_client  # no public call answers the running proxy's port

    client = _get_global_client()
    assert client is not None
    return f"http://127.0.0.1:{client.http_config.port}"


def wait_ready(url: str, timeout_s: float = 300) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while httpx.get(url, timeout=10).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready within {timeout_s} s")
        time.sleep(0.2)


def _replica_process(app_name: str, deployment: str) -> psutil.Process:
    """A live replica process of ``deployment`` in ``app_name``, among this process's own descendants."""
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
    url = f"{proxy_url()}/{app_name}{SCORE}"
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
