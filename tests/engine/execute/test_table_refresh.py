"""An open engine sees what another process publishes at its next query.

Before every query the engine compares :func:`engine.catalog.publication_stamp` with the
last one; these tests publish from a real second Python process (an ingest) while an
engine is open in this one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import catalog
from engine.api import Engine, EngineOptions
from engine.errors import UnknownTableError

ROOT = Path(__file__).resolve().parents[3]


def _ingest_elsewhere(data_dir: Path, table: str, rows: list[int]) -> None:
    """Ingest ``rows`` into the regular table ``table`` from another Python process."""
    source = data_dir.parent / f"{table}-{len(rows)}-{rows[0]}.parquet"
    pq.write_table(pa.table({"k": pa.array(rows, pa.int64())}), source)
    code = ("import sys; from engine.ingest.api import ingest_files; "
            "ingest_files(sys.argv[1], sys.argv[2], [sys.argv[3]], progress=False)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, str(data_dir), table, str(source)],
                   check=True, cwd=ROOT, env=env, timeout=120)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("refresh") / "data"
    eng = Engine.open(data_dir, EngineOptions(workers=1))
    yield eng
    eng.close()


def test_a_table_and_its_next_version_published_elsewhere_are_queried(engine: Engine) -> None:
    with pytest.raises(UnknownTableError, match=r"t\.small"):
        engine.query("SELECT COUNT(*) AS n FROM t.small").to_table()
    empty = catalog.publication_stamp(engine.data_dir)
    _ingest_elsewhere(engine.data_dir, "t.small", [1, 2, 3])
    got = engine.query("SELECT SUM(k) AS s FROM t.small").to_table()
    assert got.column("s").to_pylist() == [6]
    first = catalog.publication_stamp(engine.data_dir)
    assert [name for name, _ in first] == sorted([*(n for n, _ in empty), "t.small"])
    _ingest_elsewhere(engine.data_dir, "t.small", [10, 20])  # appends: a new version
    assert catalog.publication_stamp(engine.data_dir) != first
    got = engine.query("SELECT SUM(k) AS s FROM t.small").to_table()
    assert got.column("s").to_pylist() == [36]


def test_a_stray_file_among_the_tables_is_no_table(engine: Engine) -> None:
    stray = catalog.tables_dir(engine.data_dir) / "notes.txt"
    stray.write_text("not a table\n")
    try:
        assert "notes.txt" not in dict(catalog.publication_stamp(engine.data_dir))
        assert engine.query("SELECT COUNT(*) AS n FROM t.small").to_table().num_rows == 1
        with pytest.raises(UnknownTableError):
            engine.table("notes.txt")
    finally:
        stray.unlink()


def test_no_data_directory_has_no_tables(tmp_path: Path) -> None:
    assert catalog.publication_stamp(tmp_path / "missing") == ()
