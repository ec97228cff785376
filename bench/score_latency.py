"""Latency of ``POST /v1/score/fire_risk`` for one building, against baselines measured in the same run.

Builds a small warehouse (features online, one fire-risk champion) in a temporary data dir, then
measures, one request at a time:
  * bare ONNX Runtime in-process (no HTTP),
  * a bare FastAPI + ONNX Runtime app (the HTTP floor; ``bench/bare_fastapi_app.py``),
  * the warehouse's local engine with inline features, and with an entity id (Feast online lookup).
Servers run as subprocesses so the client does not share their interpreter. Prints one line per
system with p50/p99 and the ratio to its baseline. Run: ``make bench`` (or ``python bench/score_latency.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from registry.models import ModelArtifact
    from warehouse.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], port: int, env: dict[str, str], ready_path: str) -> Iterator[str]:
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not become ready")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def timed(call: Callable[[], object], requests: int, warmup: int = 50) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(name: str, samples: list[float], baseline: tuple[str, list[float]] | None = None) -> None:
    p50 = statistics.median(samples)
    p99 = float(np.percentile(samples, 99))
    line = f"system={name:<28} p50_ms={p50:7.3f} p99_ms={p99:7.3f}"
    if baseline is not None:
        base_p50 = statistics.median(baseline[1])
        line += f"  baseline={baseline[0]} p50_ms={base_p50:.3f} ratio={p50 / base_p50:.2f}"
    print(line, flush=True)


@dataclass(frozen=True)
class BenchWarehouse:
    """A prepared warehouse, its fire-risk champion and one building's features in every shape the systems take."""

    settings: Settings
    artifact: ModelArtifact
    version: str
    frame: pd.DataFrame
    row: dict[str, float | None]
    ordered: list[float | None]
    headers: dict[str, str]
    """The ``Authorization`` header of an application key granted fire_risk (the warehouse's API needs one)."""


@contextmanager
def prepare_bench_warehouse(buildings: int, prefix: str) -> Iterator[BenchWarehouse]:
    """Build a warehouse of ``buildings`` in a temporary dir (removed afterwards) and read B0000001's features."""
    from warehouse.library_env import apply_library_defaults

    apply_library_defaults()
    from features.online import read_online_features
    from features.store import open_feature_store
    from registry.models import fetch_model, resolve_version
    from warehouse.identity import provision_caller
    from warehouse.permissions import Role
    from warehouse.pipeline import build_demo_warehouse
    from warehouse.settings import Settings

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        settings = Settings(data_dir=Path(tmp) / "wh")
        print(f"building a warehouse of {buildings} buildings ...", flush=True)
        build_demo_warehouse(settings, n_buildings=buildings, seed=42)
        ref = resolve_version(settings, model_name="fire_risk", alias_or_version="champion")
        artifact = fetch_model(settings, ref)
        frame = read_online_features(
            open_feature_store(settings), feature_service="fire_risk", entity_key="building_id", entity_ids=["B0000001"]
        ).frame
        row = {k: (None if v != v else float(v)) for k, v in frame.iloc[0].items()}
        ordered = [row[name] for name in artifact.metadata.feature_names]
        key = provision_caller(
            settings, name="bench-app", kind="application", roles=[Role.APP], clearance="internal", grants=["fire_risk"]
        )
        headers = {"Authorization": f"Bearer {key.token}"}
        yield BenchWarehouse(settings, artifact, ref.version, frame, row, ordered, headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--buildings", type=int, default=2000)
    args = parser.parse_args()

    from serving.runtime import OnnxModel

    with prepare_bench_warehouse(args.buildings, "bench-") as bench:
        settings, artifact, frame, row, ordered = bench.settings, bench.artifact, bench.frame, bench.row, bench.ordered
        model = OnnxModel(artifact)
        model.load()
        bare_ort = timed(lambda: model.predict_proba(frame), args.requests)
        report("bare_ort_in_process", bare_ort)

        env = {"BENCH_ONNX_PATH": str(artifact.onnx_path), "BENCH_ONNX_OUTPUT": artifact.metadata.onnx_output}
        port = free_port()
        uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_fastapi_app:create_app"]
        with (
            server([*uvicorn, "--port", str(port), "--no-access-log"], port, env, "/docs") as base,
            httpx.Client(base_url=base) as client,
        ):
            bare_http = timed(lambda: client.post("/predict", json={"rows": [ordered]}), args.requests)
        report("bare_fastapi_ort", bare_http, ("bare_ort_in_process", bare_ort))

        port = free_port()
        warehouse = [sys.executable, "-m", "warehouse", "--data-dir", str(settings.data_dir), "serve"]
        with (
            server([*warehouse, "--port", str(port)], port, {}, "/v2/health/ready") as base,
            httpx.Client(base_url=base, headers=bench.headers) as client,
        ):
            client.post("/v1/score/fire_risk", json={"entities": ["B0000001"]}).raise_for_status()
            inline = timed(lambda: client.post("/v1/score/fire_risk", json={"features": [row]}), args.requests)
            by_id = timed(lambda: client.post("/v1/score/fire_risk", json={"entities": ["B0000001"]}), args.requests)
        report("local_engine_inline", inline, ("bare_fastapi_ort", bare_http))
        report("local_engine_entity_feast", by_id, ("bare_fastapi_ort", bare_http))


if __name__ == "__main__":
    main()
