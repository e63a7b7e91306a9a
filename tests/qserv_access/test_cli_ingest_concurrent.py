"""Two ``qserv-access ingest`` processes writing one table at once: nothing acknowledged is lost.

The first ingest is frozen (SIGSTOP) after it has staged its work, so the second one
certainly starts while the first is in flight; the first is resumed once the second has
either finished (the lost-update bug) or said that it waits for the first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.api import Engine
from engine.catalog import read_table
from tests.support.small_sky import write_uniform_sky

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "qserv-access"


class _Lines:
    """Collects a process's stderr lines on a thread, so the test can wait for one."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line)

    def text(self) -> str:
        self._thread.join(timeout=30)
        return "".join(self.lines)


def _ingest(data: Path, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CLI), "ingest", "--data-dir", str(data), "--table", "sky.object", "--ra", "ra",
         "--dec", "dec", "--id", "id", "--workers", "1", "--no-progress", str(path)],
        cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


@pytest.mark.parametrize("existing", [True, False], ids=["append", "create"])
def test_two_ingests_at_once_keep_every_row(tmp_path, existing):
    data = tmp_path / "data"
    base_rows = 0
    if existing:
        base = write_uniform_sky(tmp_path / "base.parquet", 1, 1_000, seed=1)
        done = subprocess.run([str(CLI), "ingest", "--data-dir", str(data), "--table",
                               "sky.object", "--ra", "ra", "--dec", "dec", "--id", "id",
                               "--workers", "1", "--no-progress", str(base)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        base_rows = 1_000
    file_a = write_uniform_sky(tmp_path / "a.parquet", 1_000_000, 300_000, seed=2)
    file_b = write_uniform_sky(tmp_path / "b.parquet", 5_000_000, 2_000, seed=3)

    first = _ingest(data, file_a)
    first_err = _Lines(first)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if any((data / "staging").glob("sky.object-*/out")):
            break
        time.sleep(0.005)
    assert first.poll() is None, f"the first ingest ended before it overlapped: {first_err.text()}"
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        second = _ingest(data, file_b)
        second_err = _Lines(second)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and second.poll() is None:
            if any("waiting for another ingest" in line for line in second_err.lines):
                break
            time.sleep(0.02)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first_err.text()
    assert second.wait(timeout=300) == 0, second_err.text()

    manifest = read_table(data, "sky.object").manifest
    assert manifest.nrows == base_rows + 302_000
    assert manifest.version == (3 if existing else 2)
    index = pq.read_table(data / "tables" / "sky.object" / f"v{manifest.version:04d}"
                          / manifest.id_index)
    assert index.num_rows == manifest.nrows
    engine = Engine.open(data)
    try:
        for object_id in (1_000_000, 1_299_999, 5_000_000, 5_001_999, *([1] if existing else [])):
            rows = engine.query(f"SELECT id FROM sky.object WHERE id = {object_id}").to_table()
            assert rows.column("id").to_pylist() == [object_id]
    finally:
        engine.close()
    waited = second_err.text()
    assert f"waiting for another ingest into sky.object (pid {first.pid})" in waited
