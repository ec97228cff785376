"""Memory of the latest-values read stays bounded by DuckDB's limit and the chunk size, not by the population.

Each measurement runs in a fresh interpreter: it reads the population once (imports, allocator pools),
resets the peak RSS (``/proc/self/clear_refs``), notes the RSS, reads the population again and
reports how far the peak rose above it. Two populations, one four times the other, must both stay
under the same bound, and the larger must not cost more than a fraction of its extra feature bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from features.datasets import generate_population
from features.definitions import SERVICES
from warehouse.settings import Settings

READ_MEMORY_MB = 128
CHUNK_ROWS = 2_000
SMALL, LARGE = 100_000, 400_000
BOUND_MB = READ_MEMORY_MB + 48 + CHUNK_ROWS * 8 * 40 / 1024**2
"""DuckDB's limit, interpreter and Arrow slack, and a chunk held in a few forms (8-byte values, ~40 columns)."""

MEASURE = """
import json, sys
from pathlib import Path
from features.latest import iter_latest_features
from warehouse.settings import Settings

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field}")

settings = Settings(data_dir=Path(sys.argv[1]), batch_read_memory_mb=int(sys.argv[2]))
chunk_rows = int(sys.argv[3])
for _chunk in iter_latest_features(settings, chunk_rows=chunk_rows):
    pass
Path("/proc/self/clear_refs").write_text("5")
before = status("VmRSS")
rows = sum(len(chunk) for chunk in iter_latest_features(settings, chunk_rows=chunk_rows))
print(json.dumps({"rows": rows, "growth_mb": status("VmHWM") - before}))
"""


def _peak_growth_mb(data_dir: Path) -> tuple[int, float]:
    command = [sys.executable, "-c", MEASURE, str(data_dir), str(READ_MEMORY_MB), str(CHUNK_ROWS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return int(result["rows"]), float(result["growth_mb"])


def test_peak_memory_does_not_grow_with_the_population(tmp_path: Path) -> None:
    growth: dict[int, float] = {}
    for entities in (SMALL, LARGE):
        settings = Settings(data_dir=tmp_path / f"p{entities}")
        generate_population(settings, population="buildings", n_entities=entities, months=2, seed=5)
        rows, growth[entities] = _peak_growth_mb(settings.data_dir)
        assert rows == entities
    extra_feature_mb = (LARGE - SMALL) * len(SERVICES["fire_risk"].feature_names) * 8 / 1024**2
    assert max(growth.values()) < BOUND_MB, growth
    assert growth[LARGE] - growth[SMALL] < extra_feature_mb / 2, (growth, extra_feature_mb)
