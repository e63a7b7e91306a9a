"""Untrusted ADQL: anything that would read files, change settings or run other statements
is refused with a clear error before any SQL reaches DuckDB; the connection refuses it too."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from engine.api import Engine
from engine.errors import AdqlError, QueryCancelledError, QueryLimitError

REFUSED = {
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_csv_in_select": "SELECT read_csv('/etc/passwd') FROM sky.object",
    "read_parquet": "SELECT * FROM read_parquet('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_text_scalar_sub": "SELECT (SELECT content FROM read_text('/etc/passwd')) AS c "
                            "FROM sky.object",
    "read_json_in_where": "SELECT id FROM sky.object WHERE 'x' IN "
                          "(SELECT * FROM read_json_auto('/etc/passwd'))",
    "replacement_scan_string": "SELECT * FROM '/etc/passwd'",
    "replacement_scan_quoted": 'SELECT * FROM "x.parquet"',
    "replacement_scan_path_quoted": 'SELECT * FROM "/etc/passwd"',
    "replacement_scan_join": "SELECT * FROM sky.object o JOIN '/etc/passwd' p ON 1 = 1",
    "copy": "COPY (SELECT 1) TO '/tmp/qserv-pwned.csv'",
    "copy_from": "COPY sky.object FROM '/etc/passwd'",
    "attach": "ATTACH '/tmp/qserv-pwned.db' AS pwn",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "pragma": "PRAGMA database_list",
    "set": "SET enable_external_access = true",
    "set_local": "SET threads = 1",
    "reset": "RESET lock_configuration",
    "call": "CALL pragma_version()",
    "create": "CREATE TABLE t AS SELECT 1",
    "drop": "DROP TABLE sky.object",
    "stacked_drop": "SELECT 1 FROM sky.object; DROP TABLE sky.object",
    "stacked_copy": "SELECT id FROM sky.object; COPY (SELECT 1) TO '/tmp/qserv-pwned.csv'",
    "stacked_select": "SELECT id FROM sky.object; SELECT 1 FROM sky.object",
    "comment_line_smuggle": "SELECT id FROM sky.object --\n; SET threads = 1",
    "comment_block_smuggle": "SELECT id FROM sky.object /* */; /* */ SET threads = 1",
    "comment_in_function_name": "SELECT * FROM read_/**/csv('/etc/passwd')",
    "getenv": "SELECT getenv('HOME') FROM sky.object",
    "current_setting": "SELECT current_setting('allowed_directories') FROM sky.object",
    "duckdb_settings": "SELECT * FROM duckdb_settings()",
    "duckdb_tables": "SELECT * FROM duckdb_tables()",
    "glob": "SELECT * FROM glob('/etc/*')",
    "glob_scalar": "SELECT id FROM sky.object WHERE id IN (SELECT COUNT(*) FROM glob('/*'))",
    "information_schema": "SELECT * FROM information_schema.tables",
    "pg_catalog": "SELECT * FROM pg_catalog.pg_tables",
    "table_function_in_join": "SELECT o.id FROM sky.object o, range(10) AS r",
    "macro_call": "SELECT adql_dist(ra, dec, 0, 0) FROM sky.object",
    "unicode_escape": "SELECT U&'\\0072ead_csv' FROM sky.object",
    "dollar_quoted": "SELECT $$/etc/passwd$$ FROM sky.object",
    "union_file": "SELECT id FROM sky.object UNION SELECT * FROM read_csv('/etc/passwd')",
    "cte_file": "WITH p AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM p",
    "lateral_file": "SELECT * FROM sky.object, LATERAL (SELECT * FROM read_csv('/etc/passwd'))",
}


@pytest.mark.parametrize("adql", REFUSED.values(), ids=list(REFUSED))
def test_unsafe_query_is_refused_with_adql_error(engine: Engine, adql: str) -> None:
    with pytest.raises(AdqlError) as info:
        engine.query(adql).to_table()
    message = str(info.value)
    assert message.strip()
    assert "root:" not in message  # nothing of /etc/passwd leaks into the error


def test_refused_copy_writes_nothing(engine: Engine, tmp_path_factory: pytest.TempPathFactory
                                     ) -> None:
    target = tmp_path_factory.mktemp("pwn") / "out.csv"
    with pytest.raises(AdqlError):
        engine.query(f"COPY (SELECT 1) TO '{target}'").to_table()
    assert not target.exists()


def test_engine_connection_refuses_reading_files(engine: Engine) -> None:
    con = engine._con
    assert con is not None
    cursor = con.cursor()
    try:
        with pytest.raises(duckdb.Error):
            cursor.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
        with pytest.raises(duckdb.Error):
            cursor.execute("SELECT * FROM '/etc/passwd'").fetchall()
    finally:
        cursor.close()


@pytest.mark.parametrize("statement", [
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET lock_configuration = false",
    "RESET lock_configuration",
    "INSTALL httpfs",
    "LOAD httpfs",
])
def test_engine_connection_refuses_configuration_changes(engine: Engine, statement: str
                                                         ) -> None:
    con = engine._con
    assert con is not None
    cursor = con.cursor()
    try:
        with pytest.raises(duckdb.Error):
            cursor.execute(statement)
    finally:
        cursor.close()


SLOW = ("SELECT COUNT(*) AS n FROM sky.object a JOIN sky.object b ON a.flags <> b.flags "
        "JOIN sky.source s ON s.object_id < 1300 "
        "WHERE SQRT(ABS(a.ra * b.dec + s.dec * b.ra)) >= 0.5 OR SIN(a.ra) * COS(b.dec) > s.mjd")
"""About a billion joined rows: seconds of work when nothing stops it."""

PROMPT_S = 2.0
"""A cancelled query must stop within this (it would run several times longer)."""


@pytest.mark.timeout(60)
def test_cancel_from_another_thread_stops_the_query_promptly(engine: Engine) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(QueryCancelledError):
            engine.query(SLOW, cancel=cancel).to_table()
    finally:
        timer.cancel()
    assert time.monotonic() - started < PROMPT_S


@pytest.mark.timeout(60)
def test_timeout_stops_the_query_promptly(engine: Engine) -> None:
    started = time.monotonic()
    with pytest.raises((QueryLimitError, QueryCancelledError)) as info:
        engine.query(SLOW, timeout_s=0.3).to_table()
    assert time.monotonic() - started < PROMPT_S
    assert "limit" in str(info.value).lower()


@pytest.mark.timeout(20)
def test_query_cancelled_before_it_starts_stops_promptly(engine: Engine) -> None:
    cancel = threading.Event()
    cancel.set()
    started = time.monotonic()
    with pytest.raises(QueryCancelledError):
        engine.query(SLOW, cancel=cancel).to_table()
    assert time.monotonic() - started < PROMPT_S


def test_engine_still_answers_after_a_cancelled_query(engine: Engine) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)
    timer.start()
    with pytest.raises(QueryCancelledError):
        engine.query(SLOW, cancel=cancel).to_table()
    table = engine.query("SELECT COUNT(id) AS n FROM sky.object").to_table()
    assert table.to_pylist() == [{"n": 2000}]
