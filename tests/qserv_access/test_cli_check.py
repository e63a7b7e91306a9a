"""``qserv-access check``: a good table passes; damaged copies fail, naming what is wrong."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.catalog import PublishedTable, read_table
from engine.ingest.api import ingest_files
from qserv_access.cli import main
from tests.support.small_sky import make_small_sky

CLI = Path(sys.executable).parent / "qserv-access"
ROWS = 3000


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("check")
    sky = make_small_sky(root / "sky.parquet", n=ROWS, seed=4)
    data = root / "data"
    ingest_files(data, "s.object", [str(sky)], ra="ra", dec="dec", id_column="id",
                 max_rows_per_partition=400, workers=1, progress=False)
    ingest_files(data, "s.bands", [str(sky)], workers=1, progress=False)  # a regular table
    return data


@pytest.fixture
def damaged(good, tmp_path) -> tuple[Path, PublishedTable]:
    copy = tmp_path / "data"
    shutil.copytree(good, copy)
    found = read_table(copy, "s.object")
    assert found is not None
    return copy, found


def _check(capsys, data: Path, *extra: str, table: str = "s.object") -> tuple[int, str]:
    code = main(["check", "--data-dir", str(data), "--table", table, "--seed", "7", *extra])
    return code, capsys.readouterr().out


def test_good_table_passes(good):
    done = subprocess.run([str(CLI), "check", "--data-dir", str(good), "--table", "s.object",
                           "--expect-rows", str(ROWS)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert not [line for line in lines if "FAILED" in line]
    for name in ("manifest", "partitions", "margins", "total rows", "expected rows",
                 "id index", "count query", "id lookup id=", "cone 1\""):
        assert any(line.startswith("ok") and f" {name}" in line for line in lines), name
    assert lines[-1].startswith("s.object: ") and lines[-1].endswith("checks ok")


def test_regular_table_passes(good, capsys):
    code, out = _check(capsys, good, "--expect-rows", str(ROWS), table="s.bands")
    assert code == 0, out
    assert "ok      files: 1 files, 3,000 rows, as recorded" in out
    assert f"COUNT(*) gives {ROWS:,}" in out


def test_truncated_partition(damaged, capsys):
    data, found = damaged
    victim = found.manifest.partitions[1].path
    path = found.resolve(victim)
    os.truncate(path, path.stat().st_size // 2)
    code, out = _check(capsys, data)
    assert code == 1
    assert f"FAILED  partitions: 1 of {len(found.manifest.partitions)} bad: {victim} unreadable" \
        in out
    assert "FAILED  sample queries: skipped" in out
    assert "FAILED: partitions, sample queries" in out


def test_removed_partition_and_margin(damaged, capsys):
    data, found = damaged
    part = found.manifest.partitions[-1]
    found.resolve(part.path).unlink()
    assert part.margin_path
    found.resolve(part.margin_path).unlink()
    code, out = _check(capsys, data)
    assert code == 1
    assert f"FAILED  partitions: 1 of {len(found.manifest.partitions)} bad: {part.path} missing" \
        in out
    assert f"FAILED  margins: 1 of {len(found.manifest.partitions)} bad: {part.margin_path} " \
        "missing" in out


def test_partition_with_other_rows(damaged, capsys):
    data, found = damaged
    part = max(found.manifest.partitions, key=lambda p: p.nrows)
    path = found.resolve(part.path)
    pq.write_table(pq.read_table(path).slice(1), path)
    code, out = _check(capsys, data)
    assert code == 1
    assert (f"{part.path} holds {part.nrows - 1:,} rows, the manifest records {part.nrows:,}"
            in out)


def test_wrong_expected_rows(good, capsys):
    code, out = _check(capsys, good, "--expect-rows", str(ROWS + 1))
    assert code == 1
    assert f"FAILED  expected rows: {ROWS:,} rows published, {ROWS + 1:,} expected" in out
    assert "ok      partitions" in out  # the rest still passes


def test_short_id_index(damaged, capsys):
    data, found = damaged
    path = found.resolve("id_index.parquet")
    pq.write_table(pq.read_table(path).slice(0, ROWS - 5), path)
    code, out = _check(capsys, data)
    assert code == 1
    assert f"FAILED  id index: {ROWS - 5:,} entries for {ROWS:,} rows" in out


def test_unknown_table(good, capsys):
    code, out = _check(capsys, good, table="s.nothing")
    assert code == 1
    assert "FAILED  manifest: no published table 's.nothing'" in out
