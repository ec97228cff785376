"""Online serving against its peers, measured in one run on the same model and machine.

Systems (each a separate server process; the load generator runs in this process):
  * ``bare_fastapi_ort``   — bare FastAPI + ONNX Runtime in-process, the floor (``bench/bare_fastapi_app.py``);
  * ``mlflow_serve``       — ``mlflow models serve`` of the same registered ONNX model;
  * ``local_inline``       — the warehouse's local engine, features inline;
  * ``local_entity``       — the warehouse's local engine, entity id with the Feast online lookup;
  * ``local_v2_infer``     — the local engine's Open Inference Protocol route, the same row as a FP32 tensor.
For each, p50/p99 latency and throughput at 1 and 8 concurrent connections, and the ratios the
serving issue targets (local throughput vs mlflow serve, local inline p50 vs the floor).
Run: ``.venv/bin/python bench/online.py [--requests 2000]``. Ray rows are added with the Ray engine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import Result, run_load  # sibling bench modules, not a package
from score_latency import BenchWarehouse, free_port, prepare_bench_warehouse, server


def measure(
    name: str, base_url: str, path: str, body: object, requests: int, headers: dict[str, str] | None = None
) -> list[Result]:
    results = []
    for connections in (1, 8):
        load = run_load(
            f"{base_url}{path}", body, connections=connections, requests=requests, headers=headers or {}, timeout_s=30
        )
        result = asyncio.run(load)
        result.system = name
        print(
            f"system={name:<18} conns={connections} p50_ms={result.p50_ms:7.3f} p99_ms={result.p99_ms:7.3f} "
            f"rps={result.rps:8.1f} errors={result.errors}",
            flush=True,
        )
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--buildings", type=int, default=2000)
    args = parser.parse_args()
    with prepare_bench_warehouse(args.buildings, "bench-online-") as bench:
        settings, artifact, row, ordered = bench.settings, bench.artifact, bench.row, bench.ordered
        results: dict[str, list[Result]] = {}
        venv_bin = str(Path(sys.executable).parent)
        path_env = {"PATH": venv_bin + os.pathsep + os.environ.get("PATH", "")}

        port = free_port()
        env = {"BENCH_ONNX_PATH": str(artifact.onnx_path), "BENCH_ONNX_OUTPUT": artifact.metadata.onnx_output}
        bare = [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_fastapi_app:create_app", "--no-access-log"]
        with server([*bare, "--port", str(port)], port, env, "/docs") as base:
            results["bare"] = measure("bare_fastapi_ort", base, "/predict", {"rows": [ordered]}, args.requests)

        port = free_port()
        mlflow_cmd = [
            str(Path(venv_bin) / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/fire_risk/{bench.version}",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        mlflow_env = {**path_env, "MLFLOW_TRACKING_URI": settings.mlflow_uri}
        with server(mlflow_cmd, port, mlflow_env, "/ping") as base:
            results["mlflow"] = measure("mlflow_serve", base, "/invocations", {"inputs": [ordered]}, args.requests)

        port = free_port()
        local = [sys.executable, "-m", "warehouse", "--data-dir", str(settings.data_dir), "serve", "--port", str(port)]
        with server(local, port, {}, "/v2/health/ready") as base:
            score, key = "/v1/score/fire_risk", bench.headers
            results["inline"] = measure("local_inline", base, score, {"features": [row]}, args.requests, key)
            results["entity"] = measure("local_entity", base, score, {"entities": ["B0000001"]}, args.requests, key)
            results["v2"] = measure(
                "local_v2_infer", base, "/v2/models/fire_risk/infer", _v2_body(bench), args.requests, key
            )
        _print_ratios(results)


def _v2_body(bench: BenchWarehouse) -> dict[str, object]:
    """The bench building as an Open Inference Protocol request (missing values as null)."""
    tensor = {"name": bench.artifact.metadata.onnx_input, "shape": [1, len(bench.ordered)], "datatype": "FP32"}
    return {"inputs": [{**tensor, "data": bench.ordered}]}


def _print_ratios(results: dict[str, list[Result]]) -> None:
    pick: Callable[[str, int], Result] = lambda key, conns: next(r for r in results[key] if r.connections == conns)  # noqa: E731
    for conns in (1, 8):
        print(
            f"ratio conns={conns} local_inline_rps/mlflow_serve_rps="
            f"{pick('inline', conns).rps / pick('mlflow', conns).rps:.1f} (target >= 10)  "
            f"local_entity_rps/mlflow_serve_rps={pick('entity', conns).rps / pick('mlflow', conns).rps:.1f}"
        )
    print(f"ratio local_inline_p50/bare_p50={pick('inline', 1).p50_ms / pick('bare', 1).p50_ms:.2f} (target <= 2)")
    print(f"ratio local_v2_infer_p50/bare_p50={pick('v2', 1).p50_ms / pick('bare', 1).p50_ms:.2f}")


if __name__ == "__main__":
    main()
