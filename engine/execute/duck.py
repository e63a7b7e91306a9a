"""Locked-down DuckDB connections: only generated SQL, only the data directory, no settings."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine.errors import EngineError
from engine.pids import pid_alive

_submit: Callable[..., Any] | None
try:  # DuckDB 2's Python relation layer: one statement, run with its rows streamed
    from duckdb._seam import submit as _submit
except ImportError:  # pragma: no cover - DuckDB 1.x has no such layer
    _submit = None

_log = logging.getLogger(__name__)

DEFAULT_MEMORY_FRACTION = 0.25
"""Share of the machine's (or container's) memory that running queries may use together
when no budget is given. DuckDB's own default is 80%, which let one self-join take the
service past 4 GB in seconds; the rest is left to Arrow results being merged and sent,
the service itself and the page cache that Parquet scans live on."""

DEFAULT_SPILL_FRACTION = 0.5
"""Share of the free space on the spill folder's disk (when the database opens) that
running queries may fill with spill files, so spilling cannot take the disk that async
results and ingests need. DuckDB's own default is 90%."""


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """The memory the queries of one database share, and where and how much they spill."""

    limit_bytes: int
    spill_dir: Path | None = None
    """Folder for spill files (a private sub-folder is made per database); None: no spill."""
    max_spill_bytes: int | None = None
    """Spill space of all queries together; None: :data:`DEFAULT_SPILL_FRACTION` of free."""


def machine_memory_bytes() -> int:
    """Return the memory this process may use: the machine's, or its cgroup's limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            total = min(total, int(Path(path).read_text().strip()))  # "max" -> ValueError
    return total


def default_memory_budget() -> int:
    """Return :data:`DEFAULT_MEMORY_FRACTION` of :func:`machine_memory_bytes`."""
    return int(machine_memory_bytes() * DEFAULT_MEMORY_FRACTION)


def open_database(read_dirs: Sequence[Path], *, threads: int | None = None,
                  macros: Sequence[str] = (),
                  budget: MemoryBudget | None = None) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB that can read Parquet under ``read_dirs`` and nothing else.

    External access is disabled except for the allowed directories, extensions can be
    neither installed nor loaded, and the configuration is locked, so no query can
    change any of it. ``macros`` (``CREATE MACRO`` statements) are defined first.
    ``budget`` bounds the memory of all queries together (default:
    :func:`default_memory_budget`, no spilling); a query beyond it spills, then fails
    with DuckDB's ``OutOfMemoryException``.
    """
    budget = budget or MemoryBudget(default_memory_budget())
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
    _apply_budget(con, budget)
    for macro in macros:
        con.execute(macro)
    dirs = [str(Path(d).resolve()) + os.sep for d in read_dirs]
    con.execute("SET allowed_directories = $dirs", {"dirs": dirs})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _apply_budget(con: duckdb.DuckDBPyConnection, budget: MemoryBudget) -> None:
    con.execute(f"SET memory_limit = '{int(budget.limit_bytes)}B'")
    if budget.spill_dir is None:
        con.execute("SET temp_directory = ''")  # nowhere to spill: fail at the limit
        return
    try:
        spill = _private_spill_dir(budget.spill_dir)
    except OSError as exc:  # a read-only data directory: spill where this user may write
        fallback = Path(tempfile.gettempdir()) / f"qserv-access-spill-{os.getuid()}"
        _log.warning("Cannot spill queries to %s (%s); spilling to %s.", budget.spill_dir,
                     exc, fallback)
        spill = _private_spill_dir(fallback)
    max_spill = budget.max_spill_bytes
    if max_spill is None:
        max_spill = int(shutil.disk_usage(spill).free * DEFAULT_SPILL_FRACTION)
    con.execute("SET temp_directory = $dir", {"dir": str(spill)})
    con.execute(f"SET max_temp_directory_size = '{int(max_spill)}B'")


def _private_spill_dir(root: Path) -> Path:
    """Make a spill folder of this database's own under ``root`` (removed at exit).

    Two databases must not share one: DuckDB names its spill files without telling
    instances apart. Folders of processes that are gone (killed) are removed here.
    """
    root.mkdir(parents=True, exist_ok=True)
    for sub in root.iterdir():
        pid = sub.name.split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(sub, ignore_errors=True)
    path = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    atexit.register(shutil.rmtree, path, True)
    return path


def check_single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT statement (a last line of defence behind the parser)."""
    statements = con.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise EngineError("Internal error: generated SQL is not a single SELECT; refused.")


def stream_select(cursor: duckdb.DuckDBPyConnection, sql: str,
                  batch_rows: int) -> pa.RecordBatchReader:
    """Run one SELECT on ``cursor``; return a reader streaming its rows ``batch_rows`` at a time.

    ``cursor.sql(sql).to_arrow_reader()`` parses and binds the statement when it makes the
    relation and again when the relation runs: in DuckDB 2, whose relations are Python, the
    first bind was 2.5-3.4 ms of CPU of a 7-row cone search's 10-11 ms in DuckDB (it opens
    the Parquet files to learn their columns). Here it is parsed and bound once, as it
    starts; a binder error then comes from this call. ``cursor.execute()`` is no way
    round it: its Arrow reader materialises the whole result first.
    """
    if _submit is None:  # pragma: no cover - DuckDB 1.x
        relation = cursor.sql(sql)
        assert relation is not None  # a SELECT always has a result relation
        return relation.to_arrow_reader(batch_rows)
    return _submit(cursor, sql, None, "stream", batch_rows).arrow_reader()
