"""Queries share a memory budget: over it they spill to disk, then fail with a clear error.

Each query runs in its own process so its peak memory (RSS) is its own; a watchdog kills
it past :data:`RSS_KILL_MB`, so a regression fails the test instead of taking the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[3]
ROWS = 2_000_000
BUDGET_MB = 64
RSS_KILL_MB = 2_000
"""Far above what a query within a 64 MB budget takes, far below what one without takes."""
RSS_BOUND_MB = 1_000
"""The interpreter, pyarrow and DuckDB (~200 MB), the budget, the result's Arrow table and
allocator slack (626 MB was seen on a loaded machine); half the kill line, a sixth of what
the same query took without a budget."""

CHILD = """
import json, sys
from engine.api import Engine, EngineOptions
from engine.errors import QueryLimitError

data, sql, limit_mb, spill_mb = sys.argv[1:5]
engine = Engine.open(data, EngineOptions(memory_limit_bytes=int(limit_mb) << 20,
                                         max_spill_bytes=int(spill_mb) << 20, workers=2))
try:
    out = {"rows": engine.query(sql).to_table().num_rows}
except QueryLimitError as exc:
    out = {"error": str(exc)}
engine.close()
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so it would report the
# forking pytest process's size when that is larger than this query's.
with open("/proc/self/status") as status:
    hwm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
out["peak_rss_mb"] = hwm_kb / 1024
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.ingest.api import ingest_files

    root = tmp_path_factory.mktemp("memory")
    rng = np.random.default_rng(3)
    pq.write_table(pa.table({
        "id": np.arange(ROWS, dtype=np.int64),
        "ra": rng.uniform(0, 360, ROWS),
        "dec": rng.uniform(-90, 90, ROWS),
        "k": rng.integers(0, 2_000, ROWS),
    }), root / "rows.parquet")
    ingest_files(root / "data", "t.big", [str(root / "rows.parquet")], progress=False)
    return root / "data"


def _run(data: Path, sql: str, *, spill_mb: int) -> dict[str, object]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data), sql, str(BUDGET_MB),
                             str(spill_mb)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    status = Path(f"/proc/{proc.pid}/status")
    peak = 0
    while proc.poll() is None:
        try:
            rss = next(int(line.split()[1]) for line in status.read_text().splitlines()
                       if line.startswith("VmRSS:")) // 1024
        except (OSError, StopIteration):
            rss = 0
        peak = max(peak, rss)
        if rss > RSS_KILL_MB:
            proc.kill()
        time.sleep(0.02)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"query process ended {proc.returncode} at {peak} MB: {err}"
    return json.loads(out)


def test_query_over_budget_fails_clearly_with_bounded_memory(data_dir: Path) -> None:
    # Every pair of rows sharing k: ~2e9 pairs, far beyond 64 MB plus 64 MB of spill.
    result = _run(data_dir, "SELECT DISTINCT a.id, b.id AS other FROM t.big AS a "
                            "JOIN t.big AS b ON a.k = b.k", spill_mb=64)
    assert "rows" not in result
    assert str(result["error"]).startswith(
        "The query needs more than its memory budget of 64.0 MiB and the 64.0 MiB it may "
        "spill to disk")
    assert "QSA_TAP_QUERY_MEMORY_MB" in str(result["error"])
    assert float(result["peak_rss_mb"]) < RSS_BOUND_MB  # type: ignore[arg-type]
    assert not list((data_dir / ".spill").iterdir()), "spill files were left behind"


def test_query_over_memory_budget_spills_and_succeeds(data_dir: Path) -> None:
    sql = "SELECT id, ra, dec, k FROM t.big ORDER BY ra"  # 64 MB of rows to sort in 64 MB
    spilled = _run(data_dir, sql, spill_mb=1_024)
    assert spilled.get("rows") == ROWS, spilled
    assert float(spilled["peak_rss_mb"]) < RSS_BOUND_MB  # type: ignore[arg-type]
    assert not list((data_dir / ".spill").iterdir()), "spill files were left behind"
    # The same sort with spilling off does not fit: spilling is what made it succeed.
    unspilled = _run(data_dir, sql, spill_mb=0)
    assert "spilling to disk is off" in str(unspilled.get("error")), unspilled
