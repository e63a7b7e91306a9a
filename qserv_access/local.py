"""The embedded mode: a ``Catalog`` over ``engine.api.Engine`` in this process.

This is the only module of the client that imports the engine.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from engine.api import Engine, EngineOptions, QueryResult
from engine.catalog import TableManifest
from engine.errors import (
    EngineError,
    QueryCancelledError,
    QueryLimitError,
    UserError,
)
from qserv_access.arrow import arrow_to_astropy, astropy_to_arrow
from qserv_access.catalog import Catalog, ColumnMeta, TableInfo, warn_overflow
from qserv_access.errors import (
    QservAccessError,
    QueryCancelled,
    QueryLimitExceeded,
    QueryRejected,
    QueryTimeout,
    ServiceUnavailable,
    is_timeout_message,
)
from qserv_access.jobs import Job, JobPhase, JobProgress

if TYPE_CHECKING:
    from astropy.table import Table
    from distributed import Client

__all__ = ["LocalCatalog", "LocalJob", "arrow_to_astropy", "astropy_to_arrow", "ingest",
           "synthetic_source"]


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise engine errors as the client's (which are also pyvo's) error classes."""
    try:
        yield
    except QueryLimitError as exc:
        cls = QueryTimeout if is_timeout_message(str(exc)) else QueryLimitExceeded
        raise cls(str(exc)) from exc
    except UserError as exc:
        raise QueryRejected(str(exc)) from exc
    except QueryCancelledError as exc:
        raise QueryCancelled(str(exc) or "The query was cancelled.") from exc
    except EngineError as exc:
        raise ServiceUnavailable(str(exc)) from exc


def _table_info(manifest: TableManifest) -> TableInfo:
    return TableInfo(
        name=manifest.name, description=manifest.description,
        columns=tuple(ColumnMeta(c.name, c.datatype, c.unit, c.ucd, c.description)
                      for c in manifest.columns),
        ra_column=manifest.ra_column, dec_column=manifest.dec_column,
        id_column=manifest.id_column, nrows=manifest.nrows,
        partitions=len(manifest.partitions) if manifest.partitions else None,
        sky_fraction=_sky_fraction(manifest))


def _sky_fraction(manifest: TableManifest) -> float | None:
    """Share of the sky the table's HEALPix partitions cover (a partition at order k is
    1/(12 * 4**k) of it); None for a table without partitions."""
    if not manifest.partitions:
        return None
    return min(1.0, sum(1.0 / (12 * 4 ** p.order) for p in manifest.partitions))


def _overflow_warning(rows: int, maxrec: int | None) -> None:
    warn_overflow(rows, maxrec, stacklevel=4)


class LocalCatalog(Catalog):
    """A catalog in a local data directory, queried in this process.

    Parameters
    ----------
    data_dir
        The data directory (as ``qserv-access ingest --data-dir`` made it).
    workers
        Threads running chunk tasks (default: CPUs).
    """

    def __init__(self, data_dir: str | Path, *, workers: int | None = None) -> None:
        if not Path(data_dir).is_dir():
            raise QueryRejected(f"Data directory {data_dir} does not exist; create it with "
                                "qserv_access.ingest() or 'qserv-access ingest'.")
        options = EngineOptions() if workers is None else EngineOptions(workers=workers)
        with translated_errors():
            self.engine = Engine.open(data_dir, options)
        self.data_dir = Path(data_dir)

    def __repr__(self) -> str:
        return f"<LocalCatalog {self.data_dir}>"

    def _start(self, adql_text: str, maxrec: int | None,
               uploads: Mapping[str, Table] | None,
               cancel: threading.Event | None = None) -> QueryResult:
        arrow_uploads = {k: astropy_to_arrow(v) if not isinstance(v, pa.Table) else v
                         for k, v in (uploads or {}).items()}
        with translated_errors():
            return self.engine.query(adql_text, maxrec=maxrec, uploads=arrow_uploads,
                                     cancel=cancel)

    def query(self, adql_text: str, *, maxrec: int | None = None,
              uploads: Mapping[str, Table] | None = None) -> Table:
        """Run ``adql_text`` here and return an astropy Table with units (see ``Catalog``)."""
        result = self._start(adql_text, maxrec, uploads)
        with translated_errors():
            table = result.to_table()
        if result.overflow:
            _overflow_warning(table.num_rows, maxrec)
        out = arrow_to_astropy(table)
        out.meta["overflow"] = result.overflow
        return out

    def submit(self, adql_text: str, *, maxrec: int | None = None,
               uploads: Mapping[str, Table] | None = None) -> LocalJob:
        """Start ``adql_text`` on a background thread and return its ``LocalJob``."""
        return LocalJob(self, adql_text, maxrec=maxrec, uploads=uploads)

    def explain(self, adql_text: str) -> str:
        """Return how the engine would run ``adql_text`` (mode, chunks, SQL), without running it."""
        with translated_errors():
            return self.engine.plan(adql_text).explain()

    def _table_infos(self) -> list[TableInfo]:
        with translated_errors():
            return [_table_info(m) for m in self.engine.tables()]

    def close(self) -> None:
        """Release the engine's threads and database."""
        self.engine.close()


_JOB_IDS = itertools.count(1)


class LocalJob(Job):
    """A query running on a background thread of this process."""

    def __init__(self, catalog: LocalCatalog, adql_text: str, *, maxrec: int | None,
                 uploads: Mapping[str, Table] | None) -> None:
        self.job_id = f"local-{next(_JOB_IDS)}"
        self.adql = adql_text
        self._maxrec = maxrec
        self._cancel = threading.Event()
        """Handed to the engine, which also sets it once the rows are read."""
        self._cancelled = False
        self._lock = threading.Lock()
        self._phase = JobPhase.QUEUED
        self._rows = 0
        self._tasks = 0
        self._started = time.monotonic()
        self._ended: float | None = None
        self._batches: list[pa.RecordBatch] = []
        self._schema: pa.Schema | None = None
        self._overflow = False
        self._exc: QservAccessError | None = None
        self._result: QueryResult | None = None
        """The engine's result, once planned: its ``progress`` counts the chunks done."""
        self._thread = threading.Thread(target=self._run, args=(catalog, uploads),
                                        name=self.job_id, daemon=True)
        self._thread.start()

    def _run(self, catalog: LocalCatalog, uploads: Mapping[str, Table] | None) -> None:
        try:
            result = catalog._start(self.adql, self._maxrec, uploads, self._cancel)
            self._result = result
            self._tasks = len(result.plan.tasks)
            with self._lock:
                self._phase = JobPhase.EXECUTING
            with translated_errors():
                self._schema = result.schema
                for batch in result.batches():
                    self._batches.append(batch)
                    self._rows += batch.num_rows
                    if self._cancelled:
                        raise QueryCancelled("cancelled")
            self._overflow = result.overflow
            self._finish(JobPhase.ABORTED if self._cancelled else JobPhase.COMPLETED)
        except QueryCancelled:
            self._finish(JobPhase.ABORTED)
        except QservAccessError as exc:
            if self._cancelled:
                self._finish(JobPhase.ABORTED)
                return
            self._exc = exc
            self._finish(JobPhase.ERROR)
        except Exception as exc:  # noqa: BLE001 - thread boundary: keep it for result()
            self._exc = ServiceUnavailable(f"Unexpected error: {type(exc).__name__}: {exc}")
            self._exc.__cause__ = exc
            self._finish(JobPhase.ERROR)

    def _finish(self, phase: JobPhase) -> None:
        with self._lock:
            self._ended = time.monotonic()
            self._phase = phase

    @property
    def phase(self) -> JobPhase:
        """The job's current phase."""
        return self._phase

    @property
    def progress(self) -> JobProgress:
        """Chunks done of the chunks the query reads (the engine counts them as its tasks
        finish), rows read so far, and elapsed time."""
        end = self._ended if self._ended is not None else time.monotonic()
        phase = self._phase
        if self._result is None:
            return JobProgress(phase, self._rows, 1.0 if phase is JobPhase.COMPLETED else None,
                               end - self._started)
        snap = self._result.progress.snapshot()
        done = snap.chunks_total if phase is JobPhase.COMPLETED else snap.chunks_done
        fraction = 1.0 if phase is JobPhase.COMPLETED else snap.fraction
        return JobProgress(phase, self._rows, fraction, end - self._started,
                           chunks_done=done, chunks_total=snap.chunks_total)

    def cancel(self) -> None:
        """Stop the query's tasks; the phase becomes ABORTED."""
        self._cancelled = True
        self._cancel.set()

    def wait(self, timeout_s: float | None = None) -> JobPhase:
        """Block until the job finishes or ``timeout_s`` passes; return the phase."""
        self._thread.join(timeout_s)
        return self._phase

    def _fetch(self) -> Table:
        table = pa.Table.from_batches(self._batches, schema=self._schema)
        if self._overflow:
            _overflow_warning(table.num_rows, self._maxrec)
        out = arrow_to_astropy(table)
        out.meta["overflow"] = self._overflow
        return out

    def _error(self) -> str:
        return str(self._exc)

    def result(self, timeout_s: float | None = None) -> Table:
        """Wait and return the rows; a failed job re-raises its original error class."""
        phase = self.wait(timeout_s)
        if phase is JobPhase.ERROR and self._exc is not None:
            raise self._exc
        if not phase.finished:
            raise self._still_running(phase, timeout_s)
        return super().result(timeout_s=0)


def ingest(data_dir: str | Path, table: str,
           files: Sequence[str | Path] | Iterable[pa.RecordBatch | pa.Table] | object, *,
           ra: str | None = None, dec: str | None = None, id_column: str | None = None,
           director: str | None = None, director_key: str | None = None,
           schema_yaml: str | Path | None = None, margin_arcsec: float = 10.0,
           max_rows_per_partition: int = 1_000_000, workers: int | None = None,
           nrows: int | None = None,
           progress: bool | Literal["always"] = False,
           dask: str | Client | None = None) -> TableInfo:
    """Ingest files, or a stream of Arrow record batches, into ``table`` of ``data_dir``.

    Parameters
    ----------
    data_dir
        The data directory (created when missing).
    table
        ``schema.table``.
    files
        Parquet, CSV, FITS or VOTable files (as ``qserv-access ingest`` takes them); or an
        iterable of ``pyarrow.RecordBatch``/``Table`` (read once); or a replayable source
        such as :func:`synthetic_source` returns, whose parts the workers read in parallel
        (no input file at all).
    ra, dec
        Position columns (degrees): the table is partitioned on the sky.
    id_column
        Unique id column, indexed for fast ``id_lookup``.
    director, director_key
        Make a child table placed with its director table's rows.
    schema_yaml
        Felis YAML with column metadata.
    margin_arcsec
        Margin kept around each partition; it bounds the largest cross-match radius.
    max_rows_per_partition
        Partitions are split until they hold at most this many rows.
    workers
        Worker processes (default: CPUs, at most 8).
    nrows
        Rows of a plain iterable of batches, when known (progress bar, disk check).
    progress
        Show a progress bar on stderr when it is a terminal; ``"always"`` shows it anywhere
        (in a notebook, whose stderr is not a terminal).
    dask
        Partition on a dask distributed cluster instead of local worker processes: its
        scheduler address (``"tcp://HOST:8786"``) or a ``distributed.Client``. Its workers
        must see ``data_dir`` and the files at the same paths; this process publishes.

    Returns
    -------
    TableInfo
        The published table's metadata.

    Raises
    ------
    QueryRejected
        An input cannot be ingested (the message names the file or stream part, the row
        and the column), or the disk cannot hold it.

    Examples
    --------
    >>> import tempfile, qserv_access
    >>> with tempfile.TemporaryDirectory() as d:
    ...     info = qserv_access.ingest(d, "sim.obj", qserv_access.synthetic_source(2000),
    ...                                ra="ra", dec="dec", id_column="id", workers=1)
    >>> info.nrows
    2000
    """
    from engine.ingest.api import ingest_batches, ingest_files
    from engine.ingest.sources import BatchSource

    options = dict(ra=ra, dec=dec, id_column=id_column, director=director,
                   director_key=director_key, schema_yaml=schema_yaml,
                   margin_arcsec=margin_arcsec, max_rows_per_partition=max_rows_per_partition,
                   workers=workers, progress=progress, dask=dask)
    with translated_errors():
        if isinstance(files, str | Path):
            manifest = ingest_files(data_dir, table, [str(files)], **options)  # type: ignore[arg-type]
        elif isinstance(files, list | tuple) and all(isinstance(f, str | Path) for f in files):
            manifest = ingest_files(data_dir, table, [str(f) for f in files], **options)  # type: ignore[arg-type]
        elif isinstance(files, BatchSource):
            manifest = ingest_batches(data_dir, table, files, **options)  # type: ignore[arg-type]
        else:
            manifest = ingest_batches(data_dir, table, files, nrows=nrows, **options)  # type: ignore[arg-type]
    return _table_info(manifest)


def synthetic_source(rows: int, *, seed: int = 42, part_rows: int = 2_000_000) -> object:
    """Return a seeded synthetic catalog of ``rows`` rows, generated part by part, to give
    :func:`ingest`: a billion rows need no input file. Columns ``id``, ``ra``, ``dec``,
    ``mag_u`` .. ``mag_z`` and ``flags``; 70 % uniform sky, 25 % galactic band, 5 % clusters.

    Examples
    --------
    >>> source = synthetic_source(10, seed=1, part_rows=4)
    >>> source.nrows, source.parts
    (10, 3)
    """
    from engine.ingest.synthetic import synthetic_source as make

    return make(rows, seed=seed, part_rows=part_rows)
