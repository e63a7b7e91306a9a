"""A task's SQL on a locked DuckDB: checked when the cursor is made, bound once when read.

The statement is no longer bound when :class:`~engine.execute.local.TaskCursor` is made
(that bound it twice), so what a bind used to report there must still come out, the same,
when the rows are read.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.errors import EngineError, UnknownColumnError
from engine.execute.duck import open_database, stream_select
from engine.execute.local import BATCH_ROWS, TaskCursor, batches_of


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200,000 rows (id, x, name) in one real Parquet file, in row groups of 50,000."""
    path = tmp_path_factory.mktemp("task") / "t.parquet"
    n = 200_000
    pq.write_table(pa.table({"id": pa.array(range(n), pa.int64()),
                             "x": pa.array([i * 0.5 for i in range(n)], pa.float64()),
                             "name": pa.array([f"n{i % 97}" for i in range(n)])}),
                   path, row_group_size=50_000)
    return path


@pytest.fixture(scope="module")
def con(parquet: Path):  # type: ignore[no-untyped-def]
    db = open_database([parquet.parent], threads=2)
    yield db
    db.close()


def _read(cursor: TaskCursor) -> pa.Table:
    try:
        batches = list(batches_of(cursor, threading.Event()))
    finally:
        cursor.close()
    return pa.Table.from_batches(batches)


def test_rows_are_those_of_duckdb_relation(con, parquet: Path) -> None:  # type: ignore[no-untyped-def]
    sql = (f"SELECT name, COUNT(*) AS n, SUM(x) AS s FROM read_parquet('{parquet}') "
           "WHERE id % 7 = 3 GROUP BY name ORDER BY name")
    got = _read(TaskCursor(con, sql, {}, ()))
    with con.cursor() as other:
        relation = other.sql(sql)
        assert relation is not None
        expected = relation.to_arrow_table()
    assert got.num_rows == 97
    assert got.equals(expected)


def test_a_large_result_streams_in_batches(con, parquet: Path) -> None:  # type: ignore[no-untyped-def]
    cursor = TaskCursor(con, f"SELECT id FROM read_parquet('{parquet}') ORDER BY id", {}, ())
    try:
        reader = cursor.reader(BATCH_ROWS)
        first = reader.read_next_batch()
        assert first.num_rows <= BATCH_ROWS
        assert first.column(0)[0].as_py() == 0
        rest = sum(b.num_rows for b in reader)
    finally:
        cursor.close()
    assert first.num_rows + rest == 200_000


def test_memory_tables_are_read(con) -> None:  # type: ignore[no-untyped-def]
    upload = pa.table({"k": [3, 1, 2]})
    got = _read(TaskCursor(con, "SELECT k FROM up ORDER BY k", {"up": upload}, ["up"]))
    assert got.column("k").to_pylist() == [1, 2, 3]


def test_an_empty_result_keeps_its_columns(con, parquet: Path) -> None:  # type: ignore[no-untyped-def]
    got = _read(TaskCursor(con, f"SELECT id, name FROM read_parquet('{parquet}') WHERE id < 0",
                           {}, ()))
    assert got.num_rows == 0
    assert got.schema.names == ["id", "name"]
    assert got.schema.field("id").type == pa.int64()


def test_an_unknown_column_is_named_when_read(con, parquet: Path) -> None:  # type: ignore[no-untyped-def]
    cursor = TaskCursor(con, f"SELECT idd FROM read_parquet('{parquet}')", {}, ())
    with pytest.raises(UnknownColumnError, match=r"Unknown column 'idd'\. Did you mean") as err:
        _read(cursor)
    assert err.value.name == "idd"


def test_more_than_one_statement_is_refused_before_any_runs(con) -> None:  # type: ignore[no-untyped-def]
    upload = pa.table({"k": [1]})
    with pytest.raises(EngineError, match="not a single SELECT"):
        TaskCursor(con, "SELECT 1; CREATE TABLE made AS SELECT 2", {"up": upload}, ["up"])
    with pytest.raises(EngineError, match="not a single SELECT"):
        TaskCursor(con, "CREATE TABLE made AS SELECT 2", {}, ())
    with con.cursor() as probe:
        made = probe.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'made'")
        assert made.fetchone() == (0,)


def test_stream_select_cannot_reach_other_files(con, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside.parquet"
    pq.write_table(pa.table({"a": [1]}), outside)
    with con.cursor() as cursor, pytest.raises(Exception, match=r"(?i)permission|not allowed"):
        stream_select(cursor, f"SELECT * FROM read_parquet('{outside}')", 100).read_all()
