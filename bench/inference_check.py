"""What validating inline rows against the inference schema adds to one ``/v1/score`` request.

For each built-in feature service (fire_risk 30 features, credit_supervision, risk_scoring over 100)
and a few batch sizes, times, in-process and one call at a time:
  * ``unchecked``: the request path before validation (column names checked, float32 matrix built);
  * ``numpy_check``: what scoring does now (``features.schemas.inference_check(...).matrix``, float32);
  * ``pandera``: pandera's lazy validation of the same rows as a small DataFrame, for comparison.
Prints p50/p99 in microseconds and the added p50 per request. No warehouse, server or model needed.
Run: ``.venv/bin/python bench/inference_check.py``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from features.definitions import service_spec
from features.schemas import feature_frame_schema, inference_check, validate_frame

SERVICES = ("fire_risk", "credit_supervision", "risk_scoring")


def valid_rows(feature_service: str, count: int, seed: int = 0) -> list[dict[str, float | None]]:
    """Rows that meet every rule: uniform within each feature's bounds (0-100 where unbounded)."""
    generator = np.random.default_rng(seed)
    rows: list[dict[str, float | None]] = []
    for _ in range(count):
        row: dict[str, float | None] = {}
        for feature in service_spec(feature_service).features:
            low = feature.minimum if feature.minimum is not None else 0.0
            high = feature.maximum if feature.maximum is not None else low + 100.0
            row[feature.name] = float(generator.uniform(low, high))
        rows.append(row)
    return rows


def unchecked(names: Sequence[str], rows: Sequence[Mapping[str, float | None]]) -> np.ndarray:
    """The path before validation: names checked, then the float32 matrix (what ``OnnxModel.rows_matrix`` did)."""
    expected = set(names)
    for row in rows:
        if len(row) != len(names) or not expected.issuperset(row):
            raise ValueError("bad row")
    nan = math.nan
    values = [[nan if (value := row[name]) is None else value for name in names] for row in rows]
    return np.array(values, dtype=np.float32).reshape(len(rows), len(names))


def timed(call: Callable[[], object], repeats: int, warmup: int = 200) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def measure(service: str, count: int, repeats: int) -> str:
    """One result line: a service's rows of one batch size through the three paths."""
    names = tuple(feature.name for feature in service_spec(service).features)
    check, schema = inference_check(service, names), feature_frame_schema(service)
    rows = valid_rows(service, count)
    before = timed(lambda: unchecked(names, rows), repeats)
    now = timed(lambda: check.matrix(rows).astype(np.float32), repeats)
    frame = timed(lambda: validate_frame(schema, pd.DataFrame(rows, columns=list(names))), max(repeats // 40, 5))
    p50 = {label: statistics.median(samples) for label, samples in (("b", before), ("n", now), ("p", frame))}
    return (
        f"service={service:<19} features={len(names):>3} rows={count:>3} "
        f"unchecked_p50_us={p50['b']:8.1f} numpy_check_p50_us={p50['n']:8.1f} "
        f"(p99 {float(np.percentile(now, 99)):8.1f}) pandera_p50_us={p50['p']:9.1f} "
        f"added_p50_us={p50['n'] - p50['b']:7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    for service in SERVICES:
        for count in args.rows:
            print(measure(service, count, args.repeats), flush=True)


if __name__ == "__main__":
    main()
