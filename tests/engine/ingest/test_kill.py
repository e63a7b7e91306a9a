"""A SIGKILLed ingest leaves the published version intact, and a re-run succeeds."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalog import read_table
from tests.support.small_sky import make_small_sky

ROOT = Path(__file__).resolve().parents[3]


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _cli_module() -> str:
    """``qserv_access.cli`` once every sub-command module exists; until then the ingest one."""
    from qserv_access.cli import COMMANDS

    ready = all(importlib.util.find_spec(m) is not None for m in set(COMMANDS.values()))
    return "qserv_access.cli" if ready else "qserv_access.cli_ingest"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", _cli_module(), "ingest", *args]


def _big_inputs(tmp: Path, n_files: int = 6, rows: int = 300_000) -> list[str]:
    rng = np.random.default_rng(7)
    paths = []
    for i in range(n_files):
        path = tmp / f"big_{i}.parquet"
        pq.write_table(pa.table({
            "id": np.arange(rows, dtype=np.int64) + i * rows + 10**7,
            "ra": rng.uniform(0, 360, rows),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, rows))),
            **{b: rng.uniform(10, 25, rows).astype(np.float32)
               for b in ("g_mag", "r_mag", "i_mag")},
            "flags": rng.integers(0, 64, rows).astype(np.int16),
        }), path)
        paths.append(str(path))
    return paths


def test_sigkill_mid_ingest_leaves_published_intact_and_rerun_works(tmp_path):
    data = tmp_path / "data"
    small = make_small_sky(tmp_path / "small.parquet", n=500)
    common = ["--data-dir", str(data), "--table", "t.obj", "--ra", "ra", "--dec", "dec",
              "--id", "id", "--workers", "2", "--no-progress"]
    done = subprocess.run(_cli(*common, str(small)), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    published = _digest(data / "tables")
    big = _big_inputs(tmp_path)
    proc = subprocess.Popen(_cli(*common, *big), cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    staging = data / "staging"
    while time.monotonic() < deadline and proc.poll() is None:
        if any(staging.glob("*/spill/*.parquet")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"ingest finished before it could be killed: {proc.stderr.read()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _digest(data / "tables") == published
    assert read_table(data, "t.obj").manifest.nrows == 500
    assert any(staging.iterdir())  # the killed transaction's leftovers
    again = subprocess.run(_cli(*common, *big), cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1,800,500 rows" in again.stdout
    assert not any(staging.iterdir())
    assert read_table(data, "t.obj").manifest.version == 2


def test_cli_reports_user_errors_without_traceback(tmp_path):
    small = make_small_sky(tmp_path / "small.parquet", n=50)
    done = subprocess.run(_cli("--data-dir", str(tmp_path / "d"), "--table", "t.obj", "--ra",
                               "rra", "--dec", "dec", str(small)),
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no column 'rra'" in done.stderr
    assert "Did you mean 'ra'" in done.stderr


def test_publish_refuses_when_another_writer_published_since(tmp_path):
    """The optimistic check behind the lock: a version built on a stale base is not published."""
    from engine.errors import IngestError
    from engine.ingest import txn

    data = tmp_path / "data"
    small = make_small_sky(tmp_path / "small.parquet", n=300)
    done = subprocess.run(_cli("--data-dir", str(data), "--table", "t.obj", "--ra", "ra",
                               "--dec", "dec", "--workers", "1", "--no-progress", str(small)),
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    published = _digest(data / "tables")
    tx = txn.begin(data, "t.obj")
    out = tx / "out"
    out.mkdir()
    (out / "table.json").write_text("{}")
    try:
        with pytest.raises(IngestError, match=r"changed by another writer.*nothing was published"):
            txn.commit(data, "t.obj", out, tx, base_version=None)  # built as if it were new
    finally:
        txn.abort(tx)
    assert _digest(data / "tables") == published
