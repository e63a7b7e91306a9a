"""The engine's façade: open a data directory, list tables, plan and run ADQL queries.

>>> engine = Engine.open(data_dir)                                   # doctest: +SKIP
>>> engine.query("SELECT TOP 3 * FROM hip.main").to_table()         # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine import catalog, id_index
from engine.adql.geometry import GEOMETRY_MACROS
from engine.adql.validate import locate_name, snippet
from engine.catalog import PublishedTable, TableManifest
from engine.errors import (
    CatalogError,
    QueryCancelledError,
    QueryLimitError,
    UnknownColumnError,
)
from engine.execute.base import Executor, ProgressSnapshot, QueryProgress
from engine.execute.deadlines import DEADLINES
from engine.execute.duck import MemoryBudget, default_memory_budget, open_database
from engine.execute.local import LocalExecutor
from engine.execute.placement import INLINE_MAX_ROWS, INLINE_MAX_TASKS
from engine.merge import merge_partials
from engine.plan import PlanOptions, QueryPlan, ResultColumn
from engine.planning import Planner, data_dirs
from engine.result import QueryResult, column_infos
from engine.storage import CatalogLocation, is_url, mirror_metadata
from engine.tap_schema import tap_schema_tables

__all__ = ["Engine", "EngineOptions", "ProgressSnapshot", "QueryPlan", "QueryProgress",
           "QueryResult", "ResultColumn", "column_infos"]


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How the engine plans and runs queries."""

    workers: int = os.cpu_count() or 2
    """Threads running chunk tasks (and DuckDB threads per task)."""
    rows_per_task: int | None = None
    """Chunks are grouped so that one task reads about this many rows. None picks
    25 million in-process (DuckDB already spreads one task over every core, and fewer
    tasks mean less merging) and 2 million on dask (many tasks spread over workers)."""
    max_tasks: int = 64
    shared_scans: bool = False
    """Let concurrent full scans of one table share their reads (Qserv's shared scans):
    each partition is read once for all the queries scanning it at the time. In-process
    execution only. Off by default: it saves storage reads, not decoding, so it pays where
    storage limits scans (network storage, tables larger than the RAM) and costs a little
    where CPU does. On the 2-core development machine, quiet, four concurrent scans of the
    billion-row table (37 GB of columns, 24 GiB of RAM) took 0.89x as long with it as
    without and read 15.3 instead of 27.2 GB; one scan alone took 1.05x as long
    (bench/results/shared_scan_billion.md)."""
    default_timeout_s: float | None = None
    """Time limit of a query when the caller gives none (None: no limit)."""
    dask_address: str | None = None
    """Scheduler address of a dask distributed cluster to run chunk tasks on (None: threads)."""
    dask_inline_max_tasks: int = INLINE_MAX_TASKS
    """With a dask cluster, plans of at most this many tasks ..."""
    dask_inline_max_rows: int = INLINE_MAX_ROWS
    """... reading at most this many rows (partition metadata) run in-process: the cluster's
    round trip would cost more than it saves. 0 sends every plan that reads files there."""
    storage_options: Mapping[str, Any] | None = None
    """fsspec options of a data directory given as a URL (``s3://bucket/prefix``): e.g.
    ``{"key": ..., "secret": ..., "client_kwargs": {"endpoint_url": ...}}``. None: the
    driver's defaults (for s3, the ``AWS_*`` environment variables)."""
    memory_limit_bytes: int | None = None
    """Memory the running queries share (DuckDB's limit; beyond it they spill to
    ``spill_dir``, then fail with :class:`QueryLimitError`). None:
    :data:`~engine.execute.duck.DEFAULT_MEMORY_FRACTION` of the machine's memory."""
    spill_dir: Path | None = None
    """Folder queries spill to when over their memory budget. None: ``DATA_DIR/.spill``."""
    max_spill_bytes: int | None = None
    """Disk space all spill files together may take. None:
    :data:`~engine.execute.duck.DEFAULT_SPILL_FRACTION` of the disk's free space."""

    def memory_budget(self, data_dir: Path) -> MemoryBudget:
        """Return the memory budget of a database over ``data_dir``."""
        return MemoryBudget(
            limit_bytes=self.memory_limit_bytes or default_memory_budget(),
            spill_dir=self.spill_dir or Path(data_dir) / SPILL_DIR_NAME,
            max_spill_bytes=self.max_spill_bytes)


MAX_DENSITY_ORDER = 12
"""Finest order :meth:`Engine.density` maps (201 million pixels of 0.7 arcmin): beyond it
a map is larger than any screen shows and than the rows of most tables."""

SPILL_DIR_NAME = ".spill"
"""Default spill folder inside the data directory (queries only ever read the tables)."""


class Engine:
    """An embedded, spatially sharded catalog engine over one data directory."""

    def __init__(self, data_dir: Path, options: EngineOptions,
                 executor: Executor | None = None,
                 location: CatalogLocation | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.location = location
        """The catalog's URL when it is not on a local path (``data_dir`` is then the
        local copy of its metadata)."""
        self.options = options
        self._lock = threading.Lock()
        self._tables: dict[str, PublishedTable] = {}
        self._stamp: tuple[tuple[str, int], ...] = ()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._dirs: list[Path] = []
        self._external_executor = executor
        self._executor: Executor | None = executor
        self._planner: Planner | None = None
        self._refresh()

    @classmethod
    def open(cls, data_dir: str | Path, options: EngineOptions | None = None,
             executor: Executor | None = None) -> Engine:
        """Open a data directory (created empty when missing), or a catalog at an fsspec URL
        (``s3://bucket/prefix``, read with ``options.storage_options``)."""
        options = options or EngineOptions()
        if is_url(data_dir):
            location = mirror_metadata(str(data_dir), options.storage_options)
            return cls(location.local_root, options, executor, location)
        path = Path(data_dir)
        if path.exists() and not path.is_dir():
            raise CatalogError(f"Data directory {path} is a file; give a directory.")
        catalog.tables_dir(path).mkdir(parents=True, exist_ok=True)
        return cls(path, options, executor)

    # -- catalog ------------------------------------------------------------------
    def _refresh(self) -> None:
        """Reload manifests when a table was published since the last query."""
        stamp = catalog.publication_stamp(self.data_dir)
        if stamp == self._stamp and self._planner is not None:
            return
        with self._lock:
            tables = catalog.list_tables(self.data_dir)
            dirs = sorted({self.data_dir.resolve(), *(d.resolve() for d in data_dirs(tables))})
            if self._con is None or any(not _covered(d, self._dirs) for d in dirs):
                self._con = open_database([self.data_dir, *dirs], threads=self.options.workers,
                                          macros=GEOMETRY_MACROS,
                                          budget=self.options.memory_budget(self.data_dir))
                self._dirs = [self.data_dir.resolve(), *dirs]
                if self._external_executor is None:
                    if self._executor is not None:
                        self._executor.close()
                    self._executor = self._make_executor(self._con, self._dirs)
            memory = {name: (data, cols) for name, (data, cols, _desc) in
                      tap_schema_tables([t.manifest for t in tables.values()]).items()}
            self._tables = tables
            rows_per_task = self.options.rows_per_task or (
                2_000_000 if self.options.dask_address else 25_000_000)
            self._planner = Planner(tables, memory, self._lookup_ids, PlanOptions(
                rows_per_task=rows_per_task, max_tasks=self.options.max_tasks))
            self._stamp = stamp

    def _make_executor(self, con: duckdb.DuckDBPyConnection, dirs: list[Path]) -> Executor:
        """The dask executor when a cluster is configured (small plans still run here),
        else threads; over a catalog URL both read its files through fsspec."""
        inline: Executor
        if self.location is not None:
            from engine.execute.catalog_url import CatalogUrlExecutor

            inline = CatalogUrlExecutor(self.location, workers=self.options.workers)
        else:
            inline = LocalExecutor(con, workers=self.options.workers,
                                   shared_scans=self.options.shared_scans,
                                   memory_bytes=self.options.memory_limit_bytes)
        if self.options.dask_address:
            from engine.execute.dask import DaskExecutor

            return DaskExecutor.connect(
                self.options.dask_address, self.location or dirs, inline=inline,
                tables=lambda: self._tables,
                inline_max_tasks=self.options.dask_inline_max_tasks,
                inline_max_rows=self.options.dask_inline_max_rows)
        return inline

    def _placed(self, plan: QueryPlan) -> QueryPlan:
        """The plan, saying where its tasks run."""
        placement = getattr(self._executor, "placement", None)
        if placement is not None:
            return replace(plan, placement=placement(plan.tasks).reason)
        return replace(plan, placement=f"in-process ({self.options.workers} threads)")

    def tables(self) -> list[TableManifest]:
        """Return the published tables' manifests (TAP_SCHEMA not included)."""
        self._refresh()
        return [t.manifest for t in self._tables.values()]

    def table(self, name: str) -> TableManifest:
        """Return one published table's manifest."""
        self._refresh()
        return catalog.require_table(self.data_dir, name).manifest

    def _lookup_ids(self, table: PublishedTable, ids: list[int | str]) -> list[int] | None:
        """Return the ``_healpix_29`` of the rows whose id (``table``'s id column) is in ``ids``.

        The values are where those rows and their child rows are stored. None when the
        index cannot answer (no index, or ids of another type): the caller then prunes
        nothing, which is slower but never wrong.
        """
        manifest = table.manifest
        if manifest.id_index is None or manifest.id_column is None:
            return None
        path = str(table.resolve(manifest.id_index))
        found = id_index.lookup(path, manifest.id_column, ids)
        if found is not None:
            return found
        assert self._con is not None  # the index cannot answer alone: stream it with DuckDB
        cursor = self._con.cursor()
        try:
            rows = cursor.execute(
                f'SELECT "_healpix_29" FROM read_parquet($path) WHERE "{manifest.id_column}" IN '
                "(SELECT UNNEST($ids))",
                {"path": path, "ids": ids}).fetchall()
        except duckdb.Error:
            return None
        finally:
            cursor.close()
        return sorted({int(r[0]) for r in rows})

    def density(self, table: str, order: int) -> pa.Table:
        """Return the rows of a positional table per HEALPix pixel: columns ``ipix``, ``n``.

        Pixels are NESTED at ``order``; empty pixels are left out. A partition at
        ``order`` or finer is counted from its manifest (its row count), a coarser one by
        reading its ``_healpix_29`` column only: a whole-sky map of any table costs at
        most one pass over one integer column, and no rows leave the engine.

        Raises
        ------
        CatalogError
            The table does not exist or is not positional.
        QueryLimitError
            ``order`` is outside 0..:data:`MAX_DENSITY_ORDER`.
        """
        if not 0 <= order <= MAX_DENSITY_ORDER:
            raise QueryLimitError(f"Density order {order} is outside 0..{MAX_DENSITY_ORDER}; "
                                  "an order of 3 to 7 suits an all-sky map.")
        self._refresh()
        published = catalog.require_table(self.data_dir, table)
        partitions = published.manifest.partitions
        if not partitions:
            raise CatalogError(f"Table '{table}' has no sky partitions (it is not positional); "
                               "a density map needs a table ingested with --ra/--dec.")
        counts: dict[int, int] = {}
        coarse: list[str] = []
        for part in partitions:
            if part.order >= order:
                ipix = part.ipix >> (2 * (part.order - order))
                counts[ipix] = counts.get(ipix, 0) + part.nrows
            elif part.nrows:
                coarse.append(str(published.resolve(part.path)))
        if coarse:
            assert self._con is not None
            cursor = self._con.cursor()
            try:
                rows = cursor.execute(
                    'SELECT "_healpix_29" >> $shift AS ipix, COUNT(*) FROM read_parquet($paths) '
                    "GROUP BY ipix", {"shift": 2 * (29 - order), "paths": coarse}).fetchall()
            finally:
                cursor.close()
            for ipix, n in rows:
                counts[int(ipix)] = counts.get(int(ipix), 0) + int(n)
        keys = sorted(k for k, v in counts.items() if v)
        return pa.table({"ipix": pa.array(keys, pa.int64()),
                         "n": pa.array([counts[k] for k in keys], pa.int64())})

    # -- queries ------------------------------------------------------------------
    def plan(self, adql: str, *, maxrec: int | None = None,
             uploads: Mapping[str, pa.Table] | None = None) -> QueryPlan:
        """Return how ``adql`` would run (chunks, SQL, merge) without running it."""
        self._refresh()
        assert self._planner is not None
        return self._placed(self._planner.plan(adql, maxrec=maxrec, uploads=uploads))

    def query(self, adql: str, *, maxrec: int | None = None,
              uploads: Mapping[str, pa.Table] | None = None, timeout_s: float | None = None,
              cancel: threading.Event | None = None) -> QueryResult:
        """Plan and start ``adql``; rows stream from the returned result.

        Raises
        ------
        AdqlError
            The query is not valid ADQL, names unknown tables or columns, or is refused.
        QueryCancelledError
            ``cancel`` was set or ``timeout_s`` passed while reading the rows.
        """
        if maxrec is not None and maxrec < 0:
            raise QueryLimitError(f"MAXREC must be 0 or more, not {maxrec}.")
        plan = self.plan(adql, maxrec=maxrec, uploads=uploads)
        cancel = _StopSignal(cancel)
        timeout = timeout_s if timeout_s is not None else self.options.default_timeout_s
        if timeout is not None:
            _cancel_after(cancel, timeout)
        progress = QueryProgress(plan.tasks)
        batches = self._execute(plan, maxrec=maxrec, cancel=cancel, timeout_s=timeout,
                                progress=progress)
        return QueryResult(plan, batches, maxrec=maxrec, cancel=cancel, progress=progress)

    def _execute(self, plan: QueryPlan, *, maxrec: int | None, cancel: threading.Event,
                 timeout_s: float | None,
                 progress: QueryProgress) -> Iterator[pa.RecordBatch]:
        assert self._executor is not None and self._con is not None
        started = time.monotonic()
        try:
            partials = self._executor.run(plan.tasks, plan.memory, cancel=cancel,
                                          progress=progress)
            yield from merge_partials(self._con, plan, partials, maxrec=maxrec, cancel=cancel)
        except UnknownColumnError as exc:
            raise _located(exc, plan.adql) from exc
        except QueryCancelledError:
            if timeout_s is not None and time.monotonic() - started >= timeout_s * 0.99:
                raise QueryLimitError(
                    f"The query ran longer than its limit of {timeout_s:g} s and was stopped; "
                    "add constraints (a smaller region, TOP) or run it asynchronously with a "
                    "longer execution duration.") from None
            raise

    def close(self) -> None:
        """Release threads and the database."""
        if self._executor is not None:
            self._executor.close()
        if self._con is not None:
            self._con.close()


def _located(exc: UnknownColumnError, adql: str) -> UnknownColumnError:
    """The same error, pointing at the name's first use in the query the user wrote."""
    where = locate_name(adql, exc.name) if exc.name else None
    if where is None:
        return exc
    line, col = where
    return UnknownColumnError(f"{exc} (line {line}, column {col}):\n{snippet(adql, line, col)}",
                              name=exc.name)


def _covered(path: Path, dirs: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in dirs)


class _StopSignal(threading.Event):
    """The query's own stop flag, also set by the caller's ``cancel`` event.

    The engine sets it when the reader stops early or the time runs out; the caller's
    event is only ever read, never set.
    """

    def __init__(self, caller: threading.Event | None) -> None:
        super().__init__()
        self._caller = caller

    def is_set(self) -> bool:
        return super().is_set() or (self._caller is not None and self._caller.is_set())

    def wait(self, timeout: float | None = None) -> bool:
        if self._caller is None:
            return super().wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            super().wait(0.02 if remaining is None else min(0.02, remaining))
        return True


def _cancel_after(cancel: threading.Event, timeout_s: float) -> None:
    DEADLINES.set_after(cancel, timeout_s)
