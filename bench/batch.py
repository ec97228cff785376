"""Rows/s and peak memory of the local batch executor against bare ONNX Runtime, measured in the same run.

Builds a warehouse of ``--buildings`` fire-risk buildings in a temporary data dir (features, a
trained champion), then regenerates the ``buildings`` population at ``--rows`` entities with
``--months`` monthly snapshots (same generator and seed family, the model unchanged), and runs each
system in a fresh subprocess, so that each one's peak RSS is its own:
  * ``bare_ort``: ONNX Runtime over the population's feature matrix already in memory, in chunks of
    the executor's chunk size, one thread (the scoring floor; the matrix is read before the clock starts);
  * ``executor``: the local executor with ``--features latest`` (DuckDB over the offline parquet,
    read ahead in a thread; scoring; parquet parts; chunk commits with the results table; alerts with
    reasons when ``--thresholds``);
  * ``executor_pit`` (with ``--point-in-time``): the same executor reading through Feast's
    point-in-time join;
  * ``executor_ray`` (with ``--ray``): the same run scored by the Ray Data executor's actor pool
    (fractional CPUs), on a local Ray the subprocess starts before the clock.
For each executor it prints three rates: ``end_to_end`` (the whole subprocess, Python and library
imports included), ``run`` (``execute_run`` only, after imports: model load, feature query, every
chunk) and ``steady`` (from the first chunk committed to the last: the per-chunk pipeline), each with
its ratio to bare ONNX Runtime, and the process's peak RSS.
Run: ``python bench/batch.py [--rows 200000] [--chunk-rows 20000] [--ray]``; ``--rows 2000000`` for the memory ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from score_latency import prepare_bench_warehouse  # sibling bench module, not a package

if TYPE_CHECKING:
    import onnxruntime as ort

PROCESS_STARTED = time.perf_counter()
MIN_BASELINE_S = 1.0
"""The bare baseline repeats its pass over the matrix for at least this long."""


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    Linux keeps ``ru_maxrss`` across ``execve``, so a child of the (large) bench process would report
    the parent's peak; ``VmHWM`` belongs to the child's own address space. Elsewhere: ``getrusage``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True)
class Population:
    """The champion's ONNX file and input/output names, and the whole population's feature matrix."""

    onnx_path: Path
    onnx_input: str
    onnx_output: str
    matrix: np.ndarray


def read_population(data_dir: str, chunk_rows: int) -> Population:
    """The population's latest features as the executor reads them, as one float32 matrix."""
    from features.latest import iter_latest_features
    from registry.models import fetch_model, resolve_version
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

    settings = Settings(data_dir=Path(data_dir))
    artifact = fetch_model(settings, resolve_version(settings, model_name="fire_risk", alias_or_version="1"))
    model = OnnxModel(artifact)
    chunks = iter_latest_features(settings, feature_service="fire_risk", chunk_rows=chunk_rows)
    matrix = np.concatenate([model.feature_matrix(chunk) for chunk in chunks])
    metadata = artifact.metadata
    return Population(artifact.onnx_path, metadata.onnx_input, metadata.onnx_output, matrix)


def bare_session(onnx_path: Path) -> ort.InferenceSession:
    """An ONNX Runtime session with one thread, as the executor's."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    return ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])


def score_chunks(session: ort.InferenceSession, population: Population, chunk_rows: int) -> int:
    """Bare ONNX Runtime over the matrix in chunks of the executor's size; rows scored."""
    rows = len(population.matrix)
    for start in range(0, rows, chunk_rows):
        session.run([population.onnx_output], {population.onnx_input: population.matrix[start : start + chunk_rows]})
    return rows


def run_bare(data_dir: str, chunk_rows: int) -> dict[str, float]:
    """Bare ONNX Runtime rows/s over the in-memory matrix (called in a fresh subprocess)."""
    population = read_population(data_dir, chunk_rows)
    session = bare_session(population.onnx_path)
    score_chunks(session, population, chunk_rows)  # warm-up
    started, rows = time.perf_counter(), 0
    while rows == 0 or time.perf_counter() - started < MIN_BASELINE_S:  # repeat: one pass can be short
        rows += score_chunks(session, population, chunk_rows)
    return {"rows": rows, "run_s": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def run_executor(
    data_dir: str, chunk_rows: int, thresholds: str | None, features: str, executor: str = "local"
) -> dict[str, float]:
    """One run of a job on ``executor``, timed three ways (called in a fresh subprocess). For ``ray``
    the process's own local Ray is started before the clock (``ray_start_s``), as a cluster a
    scheduler submits to would already run; the run itself is timed as the local one is."""
    from scheduling.executor import start_run
    from scheduling.jobs import run_execution
    from scheduling.specs import RunRequest, WarningThresholds
    from warehouse.ray_runtime import ray_connection
    from warehouse.settings import Settings

    settings = Settings(data_dir=Path(data_dir), batch_chunk_rows=chunk_rows)
    limits = WarningThresholds.model_validate_json(thresholds) if thresholds else None
    request = RunRequest(algorithm="fire_risk", model="1", thresholds=limits, features=features)  # type: ignore[arg-type]  # checked by pydantic
    run_id = start_run(settings, request, job_name="bench")
    marks: list[tuple[float, int]] = []
    with contextlib.ExitStack() as stack:
        ray_started = time.perf_counter()
        if executor == "ray":
            stack.enter_context(ray_connection(settings))
        started = time.perf_counter()
        report = run_execution(executor)(  # type: ignore[arg-type]  # "local" or "ray", from main
            settings, run_id, on_progress=lambda done, total=None: marks.append((time.perf_counter(), done))
        )
        finished = time.perf_counter()
    committed = [(moment, done) for moment, done in marks[1:] if done > 0]  # the first mark is the total
    steady_rows = sum(done for _moment, done in committed[1:])
    steady_s = committed[-1][0] - committed[0][0] if len(committed) > 1 else 0.0
    return {
        "rows": report.rows,
        "end_to_end_s": finished - PROCESS_STARTED,
        "run_s": finished - started,
        "steady_rows": steady_rows,
        "steady_s": steady_s,
        "peak_rss_mb": peak_rss_mb(),
        "ray_start_s": started - ray_started,
    }


def measure(system: str, data_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    """Run one system in a fresh interpreter; its JSON result."""
    command = [sys.executable, __file__, "--system", system, "--data-dir", str(data_dir)]
    command += ["--chunk-rows", str(args.chunk_rows), "--thresholds", args.thresholds]
    done = subprocess.run(command, capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"{system} failed:\n{done.stderr[-4000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def executor_line(system: str, result: dict[str, float], bare_rate: float) -> str:
    """Rows, the three rates with their ratios to bare ONNX Runtime, and peak RSS."""
    rates = {
        "end_to_end": result["rows"] / result["end_to_end_s"],
        "run": result["rows"] / result["run_s"],
        "steady": result["steady_rows"] / result["steady_s"] if result["steady_s"] > 0 else float("nan"),
    }
    text = f"system={system:<13} rows={int(result['rows'])}"
    for name, rate in rates.items():
        text += f" {name}_rows_per_s={rate:9.0f} ({rate / bare_rate:.3f}x)"
    text += f" run_s={result['run_s']:.1f} peak_rss_mb={result['peak_rss_mb']:.0f}"
    return text + (f" ray_start_s={result['ray_start_s']:.1f}" if system == "executor_ray" else "")


def compare(data_dir: Path, args: argparse.Namespace) -> None:
    """Measure every system on the warehouse in ``data_dir`` and print the comparison."""
    bare = measure("bare_ort", data_dir, args)
    bare_rate = bare["rows"] / bare["run_s"]
    print(f"system=bare_ort      rows_per_s={bare_rate:9.0f} peak_rss_mb={bare['peak_rss_mb']:.0f}", flush=True)
    print(executor_line("executor", measure("executor", data_dir, args), bare_rate), flush=True)
    if args.point_in_time:
        print(executor_line("executor_pit", measure("executor_pit", data_dir, args), bare_rate), flush=True)
    if args.ray:
        print(executor_line("executor_ray", measure("executor_ray", data_dir, args), bare_rate), flush=True)


def regenerate(data_dir: Path, rows: int, months: int) -> None:
    """Replace the buildings population with one of ``rows`` entities (the model stays as trained)."""
    from features.datasets import generate_population
    from warehouse.settings import Settings

    started = time.perf_counter()
    generate_population(Settings(data_dir=data_dir), population="buildings", n_entities=rows, months=months, seed=43)
    print(f"generated {rows:,} buildings x {months} months in {time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=5_000, help="population the champion is trained on")
    parser.add_argument("--rows", type=int, default=200_000, help="population scored (0: the training population)")
    parser.add_argument("--months", type=int, default=2, help="monthly snapshots of the scored population")
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--thresholds", default="", help='warning thresholds JSON, e.g. \'{"min_level": "high"}\'')
    parser.add_argument("--point-in-time", action="store_true", help="also run the executor on Feast's PIT read")
    parser.add_argument("--ray", action="store_true", help="also run the Ray Data executor (this process's own Ray)")
    parser.add_argument("--warehouse", help="an existing data dir with a fire-risk champion, scored as it is")
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.system:
        from warehouse.library_env import apply_library_defaults

        apply_library_defaults()
        thresholds = args.thresholds or None
        if args.system == "bare_ort":
            result = run_bare(args.data_dir, args.chunk_rows)
        else:
            features = "point-in-time" if args.system == "executor_pit" else "latest"
            executor = "ray" if args.system == "executor_ray" else "local"
            result = run_executor(args.data_dir, args.chunk_rows, thresholds, features, executor)
        print(json.dumps(result))
        return
    if args.warehouse:
        compare(Path(args.warehouse).resolve(), args)
        return
    with prepare_bench_warehouse(args.buildings, "bench-batch-") as bench:
        if args.rows:
            regenerate(bench.settings.data_dir, args.rows, args.months)
        compare(bench.settings.data_dir, args)


if __name__ == "__main__":
    main()
