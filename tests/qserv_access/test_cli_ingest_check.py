"""``qserv-access ingest --check``: a summary and exit 0 for good inputs, exit 2 naming the
problem otherwise; the data directory is never created nor changed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.ingest.api import ingest_files
from qserv_access.cli import main
from tests.support.small_sky import write_uniform_sky

CLI = Path(sys.executable).parent / "qserv-access"
POSITIONAL = ["--ra", "ra", "--dec", "dec", "--id", "id"]


def _tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (folders too) and each file's sha256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("inputs")
    return (write_uniform_sky(root / "sky.parquet", first_id=1, rows=2000, seed=5),
            write_uniform_sky(root / "more.parquet", first_id=10**6, rows=1000, seed=6))


@pytest.fixture(scope="module")
def published(tmp_path_factory, files) -> Path:
    data = tmp_path_factory.mktemp("published") / "data"
    ingest_files(data, "s.object", [str(files[0])], ra="ra", dec="dec", id_column="id",
                 workers=1, progress=False)
    return data


def _check(capsys, data: Path, *args: str) -> tuple[int, str, str]:
    code = main(["ingest", "--check", "--data-dir", str(data), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_good_inputs_new_table(files, tmp_path):
    data = tmp_path / "data"
    done = subprocess.run([str(CLI), "ingest", "--check", "--data-dir", str(data), "--table",
                           "s.object", *POSITIONAL, str(files[0]), str(files[1])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("ok: s.object (positional, a new table) can be ingested")
    assert "files: 2, rows: 3,000, bytes: " in out
    assert "positions and ids of 3,000 rows" in out
    assert "disk: needs about " in out and " free on the disk holding " in out
    assert not data.exists(), "--check created the data directory"


def test_append_leaves_data_dir_unchanged(files, published, capsys):
    before = _tree(published)
    code, out, err = _check(capsys, published, "--table", "s.object", *POSITIONAL,
                            str(files[1]))
    assert code == 0, err
    assert "(positional, appends to version 1)" in out
    assert _tree(published) == before


def _write(path: Path, **columns: object) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--table", "bad-name"], "Table name 'bad-name' must be 'schema.table'"),
    (["--table", "s.object", "--ra", "RA", "--dec", "dec"],
     "no column 'RA' (given as ra). Did you mean 'ra'?"),
    (["--table", "s.object", "--ra", "ra"], "Give both --ra and --dec, or neither."),
    (["--table", "s.source", "--director", "s.nothing", "--director-key", "id"],
     "Unknown table 's.nothing'"),
])
def test_bad_arguments(files, published, capsys, args, message):
    before = _tree(published)
    code, _out, err = _check(capsys, published, *args, str(files[0]))
    assert code == 2
    assert message in err
    assert _tree(published) == before


def test_bad_rows_are_named(tmp_path, capsys):
    n = 10
    ra, dec = np.linspace(1, 50, n), np.linspace(-10, 10, n)
    cases = {
        "dec_range.parquet": (dict(ra=ra, dec=np.where(np.arange(n) == 2, 95.0, dec)),
                              "column 'dec' (given as dec) is out of range [-90, 90] degrees "
                              "(value 95.0) at row 3 (rows count from 1)"),
        "ra_nan.parquet": (dict(ra=np.where(np.arange(n) == 6, np.nan, ra), dec=dec),
                           "column 'ra' (given as ra) is null or NaN at row 7"),
        "ra_text.parquet": (dict(ra=[str(x) for x in ra], dec=dec),
                            "column 'ra' (given as ra) has type string; it must be numeric"),
        "id_float.parquet": (dict(ra=ra, dec=dec, id=np.arange(n) * 1.5),
                             "column 'id' (given as id) has type double; it must hold "
                             "integers or strings"),
    }
    data = tmp_path / "data"
    for name, (columns, message) in cases.items():
        path = _write(tmp_path / name, **{"id": np.arange(n), **columns})
        code, _out, err = _check(capsys, data, "--table", "s.object", *POSITIONAL, str(path))
        assert code == 2, name
        assert f"{path}: {message}" in err, err
    assert not data.exists()


def test_unreadable_and_missing_files(tmp_path, capsys):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really parquet")
    data = tmp_path / "data"
    code, _out, err = _check(capsys, data, "--table", "s.object", *POSITIONAL, str(broken))
    assert code == 2 and f"{broken}: cannot read this file" in err
    code, _out, err = _check(capsys, data, "--table", "s.object", *POSITIONAL,
                             str(tmp_path / "gone.parquet"))
    assert code == 2 and f"{tmp_path / 'gone.parquet'}: no such file." in err
    assert not data.exists()


def test_disk_too_small(tmp_path, capsys):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a 1 MB tmpfs ({done.stderr.strip()}); needs root")
    try:
        big = write_uniform_sky(tmp_path / "big.parquet", 1, 60_000, seed=7)  # ~1.6 MB
        data = mount / "data"
        code, _out, err = _check(capsys, data, "--table", "s.object", *POSITIONAL, str(big))
        assert code == 2
        assert "Not enough free space on the disk holding" in err
        assert f"tmpfs mounted at {mount.resolve()}" in err
        assert not data.exists()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
