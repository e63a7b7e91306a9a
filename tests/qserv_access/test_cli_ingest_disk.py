"""``qserv-access ingest`` onto a disk too small for it: one line, nothing published, no staging.

The data directory lies on a real small filesystem (a tmpfs mounted for the test), so the
disk really fills: no error is simulated. Mounting needs root (or CAP_SYS_ADMIN); where it
is refused the tests are skipped, saying why.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.catalog import read_table
from tests.support.small_sky import write_uniform_sky

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "qserv-access"


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _small_disk(tmp_path: Path, megabytes: int) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a {megabytes} MB tmpfs to fill ({done.stderr.strip()}); "
                    "this test needs root or CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def disk_8mb(tmp_path):
    yield from _small_disk(tmp_path, 8)


@pytest.fixture
def disk_11mb(tmp_path):
    yield from _small_disk(tmp_path, 11)


def _ingest(data: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "ingest", "--data-dir", str(data), "--table", "sky.object", "--ra", "ra",
         "--dec", "dec", "--id", "id", "--workers", "2", "--no-progress", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)


def _published_table(data: Path, tmp_path: Path) -> dict[str, str]:
    done = _ingest(data, write_uniform_sky(tmp_path / "base.parquet", 1, 1_000, seed=1))
    assert done.returncode == 0, done.stderr
    return _digest(data / "tables")


def _assert_untouched(data: Path, published: dict[str, str]) -> None:
    assert _digest(data / "tables") == published
    assert read_table(data, "sky.object").manifest.nrows == 1_000
    assert not [p for p in (data / "staging").iterdir()], "staging files were left behind"


def test_ingest_larger_than_free_space_is_refused_before_it_starts(disk_8mb, tmp_path):
    data = disk_8mb / "data"
    published = _published_table(data, tmp_path)
    big = write_uniform_sky(tmp_path / "big.parquet", 1_000_000, 300_000, seed=2)  # 8.6 MB
    done = _ingest(data, big)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "Not enough free space on the disk holding" in lines[0]
    assert f"tmpfs mounted at {disk_8mb.resolve()}" in lines[0]
    assert "needs at least about 8.6 MB" in lines[0] and "Nothing was done" in lines[0]
    _assert_untouched(data, published)


def test_disk_filling_during_ingest_is_one_line_and_publishes_nothing(disk_11mb, tmp_path):
    data = disk_11mb / "data"
    published = _published_table(data, tmp_path)
    # Passes the check (at least about 8.6 MB needed, 11 MB free) but stages about 13 MB.
    big = write_uniform_sky(tmp_path / "big.parquet", 1_000_000, 300_000, seed=2)
    done = _ingest(data, big)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("qserv-access ingest: error: No space left on the disk holding")
    assert f"tmpfs mounted at {disk_11mb.resolve()}" in lines[0]
    assert "Nothing was published and its staging files were removed" in lines[0]
    _assert_untouched(data, published)
    # The disk is usable again at once (space given back, no lock left held).
    again = _ingest(data, write_uniform_sky(tmp_path / "more.parquet", 2_000_000, 1_000, seed=3))
    assert again.returncode == 0, again.stderr
    assert read_table(data, "sky.object").manifest.nrows == 2_000
