"""Locked-down DuckDB connections: only generated SQL, only the data directory, no settings."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb

from engine.errors import EngineError

_LOCAL = threading.local()


def open_database(read_dirs: Sequence[Path], *, threads: int | None = None,
                  macros: Sequence[str] = ()) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB that can read Parquet under ``read_dirs`` and nothing else.

    External access is disabled except for the allowed directories, extensions can be
    neither installed nor loaded, and the configuration is locked, so no query can
    change any of it. ``macros`` (``CREATE MACRO`` statements) are defined first.
    """
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": threads or os.cpu_count() or 1,
        },
    )
    # Parquet footers are read once and cached: small cone searches are dominated by them.
    con.execute("SET GLOBAL parquet_metadata_cache = true")
    for macro in macros:
        con.execute(macro)
    dirs = [str(Path(d).resolve()) + os.sep for d in read_dirs]
    con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def check_single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT statement (a last line of defence behind the parser)."""
    statements = con.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise EngineError("Internal error: generated SQL is not a single SELECT; refused.")
