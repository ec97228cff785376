"""Rows/s and peak memory of the local batch executor against bare ONNX Runtime, measured in the same run.

Builds a warehouse of ``--buildings`` fire-risk buildings in a temporary data dir, then runs each
system in a fresh subprocess (so that each one's peak RSS is its own):
  * ``bare_ort``: ONNX Runtime over the population's feature matrix already in memory, in chunks of
    the executor's chunk size (the scoring floor; the matrix is read before the clock starts);
  * ``read_then_ort``: the same feature read the executor does (Feast offline, point in time), then
    bare ONNX Runtime (the floor of any executor that reads features);
  * ``executor``: the local executor end to end (feature read, scoring, parquet parts, chunk commits
    with the results table, alerts with reasons and their outbox rows when ``--thresholds``).
Prints rows/s and peak RSS per system and the ratios to both baselines, then profiles one executor
run (cumulative seconds of the feature read, scoring, part writes and chunk commits).
Run: ``python bench/batch.py [--buildings 20000] [--chunk-rows 5000]``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
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

MIN_BASELINE_S = 1.0
"""The bare baseline repeats its pass over the matrix for at least this long."""
TOP_FUNCTIONS = 25
"""Functions listed by cumulative time in the profile."""
PROFILED = {
    "feature_read": "_fetch_block",
    "ort_scoring": "predict_proba",
    "reasons": "explain_crossings",
    "part_write": "_write_part",
    "chunk_commit": "_commit_chunk",
}
"""Phase -> the function whose cumulative time measures it in the profile."""


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
    """The population's features as the executor reads them (Feast offline, point in time), as one matrix."""
    import pandas as pd

    from features.offline import iter_population_features
    from registry.models import fetch_model, resolve_version
    from serving.runtime import OnnxModel
    from warehouse.settings import Settings

    settings = Settings(data_dir=Path(data_dir))
    artifact = fetch_model(settings, resolve_version(settings, model_name="fire_risk", alias_or_version="1"))
    frame = pd.concat(iter_population_features(settings, feature_service="fire_risk", chunk_rows=chunk_rows))
    matrix = OnnxModel(artifact).feature_matrix(frame)
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


def run_system(system: str, data_dir: str, chunk_rows: int, thresholds: str | None) -> dict[str, float]:
    """One system's rows, seconds and peak RSS (called in a fresh subprocess)."""
    if system == "bare_ort":
        population = read_population(data_dir, chunk_rows)
        session = bare_session(population.onnx_path)
        score_chunks(session, population, chunk_rows)  # warm-up
        started, rows = time.perf_counter(), 0
        while rows == 0 or time.perf_counter() - started < MIN_BASELINE_S:  # repeat: one pass is milliseconds
            rows += score_chunks(session, population, chunk_rows)
    elif system == "read_then_ort":
        started = time.perf_counter()
        population = read_population(data_dir, chunk_rows)
        rows = score_chunks(bare_session(population.onnx_path), population, chunk_rows)
    else:
        started = time.perf_counter()
        rows = execute(data_dir, chunk_rows, thresholds, profile=system == "executor_profiled")
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}


def execute(data_dir: str, chunk_rows: int, thresholds: str | None, *, profile: bool) -> int:
    """One local-executor run of a job (alerts when ``thresholds``); optionally profiled phase by phase."""
    from scheduling.executor import execute_run, start_run
    from scheduling.specs import RunRequest, WarningThresholds
    from warehouse.settings import Settings

    settings = Settings(data_dir=Path(data_dir), batch_chunk_rows=chunk_rows)
    limits = WarningThresholds.model_validate_json(thresholds) if thresholds else None
    run_id = start_run(settings, RunRequest(algorithm="fire_risk", model="1", thresholds=limits), job_name="bench")
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = execute_run(settings, run_id)
    if profiler is not None:
        profiler.disable()
        print_profile(profiler, time.perf_counter() - started)
    return report.rows


def print_profile(profiler: cProfile.Profile, total_s: float) -> None:
    """Cumulative seconds of each executor phase in one profiled run."""
    stats = pstats.Stats(profiler)
    cumulative: dict[str, float] = {}
    entries = stats.stats.items()  # type: ignore[attr-defined]  # pstats keeps its table untyped
    for (_file, _line, name), (_calls, _prim, _total, cum, _callers) in entries:
        for phase, function in PROFILED.items():
            if name == function:
                cumulative[phase] = max(cumulative.get(phase, 0.0), cum)
    phases = " ".join(f"{phase}_s={cumulative.get(phase, 0.0):.3f}" for phase in PROFILED)
    print(f"profile executor total_s={total_s:.3f} {phases}", file=sys.stderr, flush=True)
    ranked = sorted(entries, key=lambda item: item[1][3], reverse=True)
    for (file, line_number, name), (_calls, _prim, _total, cum, _callers) in ranked[:TOP_FUNCTIONS]:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line_number}"
        print(f"profile top cumulative_s={cum:8.3f} {name} ({where})", file=sys.stderr, flush=True)


def measure(system: str, data_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    """Run one system in a fresh interpreter; its JSON result."""
    command = [sys.executable, __file__, "--system", system, "--data-dir", str(data_dir)]
    command += ["--chunk-rows", str(args.chunk_rows)]
    if args.thresholds:
        command += ["--thresholds", args.thresholds]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=3600)
    if done.stderr.strip():
        for line in done.stderr.splitlines():
            if line.startswith("profile "):
                print(line, flush=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def line(system: str, result: dict[str, float], baselines: dict[str, dict[str, float]]) -> str:
    """``system=... rows_per_s=... peak_rss_mb=...`` and the ratios to each baseline."""
    rate, rss = result["rows"] / result["seconds"], result["peak_rss_mb"]
    text = f"system={system:<14} rows={int(result['rows'])} rows_per_s={rate:10.0f} peak_rss_mb={rss:7.1f}"
    for name, base in baselines.items():
        ratio = rate / (base["rows"] / base["seconds"])
        text += f"  baseline={name} ratio={ratio:.3f} rss_ratio={rss / base['peak_rss_mb']:.2f}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=20_000)
    parser.add_argument("--chunk-rows", type=int, default=5_000)
    parser.add_argument("--thresholds", default='{"min_level": "high"}', help="warning thresholds JSON ('' for none)")
    parser.add_argument("--warehouse", help="an existing data dir with a fire-risk champion (default: build one)")
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.system:
        from warehouse.library_env import apply_library_defaults

        apply_library_defaults()
        print(json.dumps(run_system(args.system, args.data_dir, args.chunk_rows, args.thresholds or None)))
        return
    if args.warehouse:
        compare(Path(args.warehouse).resolve(), args)
        return
    with prepare_bench_warehouse(args.buildings, "bench-batch-") as bench:
        compare(bench.settings.data_dir, args)


def compare(data_dir: Path, args: argparse.Namespace) -> None:
    """Measure every system on the warehouse in ``data_dir`` and print the comparison."""
    bare = measure("bare_ort", data_dir, args)
    print(line("bare_ort", bare, {}), flush=True)
    read = measure("read_then_ort", data_dir, args)
    print(line("read_then_ort", read, {"bare_ort": bare}), flush=True)
    executor = measure("executor", data_dir, args)
    print(line("executor", executor, {"bare_ort": bare, "read_then_ort": read}), flush=True)
    measure("executor_profiled", data_dir, args)


if __name__ == "__main__":
    main()
