"""Ingest entry points: :func:`ingest_files`, :func:`ingest_batches` and :func:`attach_hats`.

A partitioned ingest runs three named passes, each in its own module with typed inputs
and outputs: :func:`~engine.ingest.scan.scan` (pass 1: read and spill by sky bucket),
:func:`~engine.ingest.layout.plan_layout` (choose partitions),
:func:`~engine.ingest.write.write_partitions` (passes 2 and 3: partitions and margins),
then the id index (:func:`~engine.ingest.pipeline.merge_id_index`) and the HATS metadata.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Unpack

import pyarrow as pa

from engine.catalog import (
    MANIFEST_NAME,
    PublishedTable,
    TableKind,
    TableManifest,
    read_table,
    require_table,
)
from engine.errors import IngestError
from engine.ingest import cluster, hats_layout, pipeline, processes, space, txn
from engine.ingest.cluster import DaskPool, DaskTarget
from engine.ingest.inputs import NewRows, Work, resolve, stream_meta
from engine.ingest.layout import plan_layout
from engine.ingest.metadata import build_columns, read_felis_table, schema_with_metadata
from engine.ingest.options import (
    DEFAULT_MARGIN_ARCSEC,
    IngestOptions,
    TableOptions,
    checked,
)
from engine.ingest.partitioning import DEFAULT_MAX_ROWS_PER_PARTITION, HISTOGRAM_ORDER
from engine.ingest.scan import Scan, ScanRequest, scan
from engine.ingest.sources import (
    BatchSource,
    peek,
)
from engine.ingest.workers import read_order, sha256_file
from engine.ingest.write import SpillIndex, WriteRequest, write_partitions
from engine.sky.healpix import SPATIAL_INDEX_COLUMN

_log = logging.getLogger(__name__)

SPLIT_ROWS = 2_000_000
"""Parquet inputs bigger than this are read by several workers, row groups apiece (each
pass-1 job writes a spill file per sky bucket: bigger jobs, fewer files)."""

ONE_SHOT_PART_ROWS = 1_000_000
"""Rows of a one-shot stream gathered in this process and shipped to a worker at a time."""

INLINE_ROWS = 250_000
"""Inputs known to hold at most this many rows are ingested in this process when ``workers``
is not given: spawning worker processes (each importing Arrow, DuckDB and healpy) costs
seconds, more than a second core saves on so few rows."""


@dataclasses.dataclass(frozen=True, slots=True)
class TableSpec:
    """What an ingest makes of its target table: name, kind and column roles."""

    table: str
    kind: TableKind
    ra: str | None
    dec: str | None
    id_column: str | None
    director: str | None
    director_key: str | None
    margin_arcsec: float
    max_rows: int
    allow_orphans: bool
    schema_yaml: str | Path | None = None
    """A Felis YAML schema giving units, UCDs and descriptions."""


def _check_table_name(table: str) -> str:
    parts = table.split(".")
    if len(parts) != 2 or not all(p.isidentifier() for p in parts):
        raise IngestError(f"Table name '{table}' must be 'schema.table' (e.g. dp1.object).")
    return table.lower()


def ingest_files(data_dir: str | Path, table: str, files: list[str] | tuple[str, ...],
                 **options: Unpack[IngestOptions]) -> TableManifest:
    """Ingest files into a table (a new table or a new version appending to it).

    Parameters
    ----------
    data_dir
        The data directory.
    table
        ``schema.table``.
    files
        Parquet, CSV, FITS or VOTable files sharing their columns.
    **options
        Column roles, partitioning and how the ingest runs: see
        :class:`~engine.ingest.options.IngestOptions` (``ra``, ``dec``, ``id_column``,
        ``director``, ``director_key``, ``schema_yaml``, ``margin_arcsec``,
        ``max_rows_per_partition``, ``allow_orphans``, ``workers``, ``progress``, ``dask``).

    Returns
    -------
    TableManifest
        The published manifest.

    Raises
    ------
    IngestError
        Bad input or arguments, or a disk too small or full; nothing published was changed.
    TypeError
        An unknown keyword.

    Notes
    -----
    Ingests into one table run one at a time: a second one waits for the first to
    publish (saying so on stderr), then adds its rows to that version.
    """
    checked(options, IngestOptions, "ingest_files")
    spec = table_spec(table, options)
    if not files:
        raise IngestError("No input files given.")
    dask = options.get("dask")
    paths = tuple(str(Path(f).absolute() if dask is not None else Path(f)) for f in files)
    return _run(Path(data_dir), spec, NewRows(files=paths), options)


def ingest_batches(data_dir: str | Path, table: str,
                   batches: BatchSource | Iterable[pa.RecordBatch | pa.Table], *,
                   nrows: int | None = None, name: str = "batch stream",
                   **options: Unpack[IngestOptions]) -> TableManifest:
    """Ingest a stream of Arrow record batches (no input files) into a table.

    Parameters
    ----------
    batches
        A :class:`~engine.ingest.sources.BatchSource` (replayable, in parts that worker
        processes read in parallel: the way to ingest a billion generated rows), or any
        iterable of ``pyarrow.RecordBatch`` / ``Table`` (read once, by this process, and
        shipped to the workers in parts of :data:`ONE_SHOT_PART_ROWS` rows). Every batch
        has the columns of the first.
    nrows
        Rows of a plain iterable, when known (a ``BatchSource`` gives its own): sizes the
        progress bar and the disk check. Unknown, the disk check cannot refuse early.
    name
        Names a plain iterable in error messages (rows count from its first row).
    data_dir, table, **options
        As :func:`ingest_files`.

    Returns
    -------
    TableManifest
        The published manifest.

    Raises
    ------
    IngestError
        Bad rows (named by stream part and row), bad arguments, or a disk too small.
    TypeError
        An unknown keyword.

    Examples
    --------
    >>> from engine.ingest.synthetic import synthetic_source
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     m = ingest_batches(d, "sim.obj", synthetic_source(3000, part_rows=1000),
    ...                        ra="ra", dec="dec", id_column="id", workers=1, progress=False)
    >>> m.nrows, m.column("ra").unit
    (3000, 'deg')
    """
    checked(options, IngestOptions, "ingest_batches")
    spec = table_spec(table, options)
    if isinstance(batches, BatchSource):
        label = batches.name
        sample, _ = peek(batches.read_part(0), f"{label} part 0")
        new = NewRows(stream=batches, sample=sample, name=label, nrows=batches.nrows)
    elif isinstance(batches, pa.Table | pa.RecordBatch):
        raise IngestError("Give an iterable of record batches (e.g. table.to_batches()) or a "
                          "BatchSource, not a single Table or RecordBatch.")
    else:
        sample, one_shot = peek(batches, name)
        new = NewRows(one_shot=one_shot, sample=sample, name=name, nrows=nrows)
    return _run(Path(data_dir), spec, new, options)


def table_spec(table: str, options: TableOptions) -> TableSpec:
    """Check an ingest's table name and column roles; return what they make of the table."""
    name = _check_table_name(table)
    ra, dec = options.get("ra"), options.get("dec")
    director, director_key = options.get("director"), options.get("director_key")
    if (ra is None) != (dec is None):
        raise IngestError("Give both --ra and --dec, or neither.")
    if (director is None) != (director_key is None):
        raise IngestError("Give both --director and --director-key, or neither.")
    kind = (TableKind.CHILD if director else
            TableKind.POSITIONAL if ra else TableKind.REGULAR)
    margin = options.get("margin_arcsec", DEFAULT_MARGIN_ARCSEC)
    return TableSpec(name, kind, ra, dec, options.get("id_column"),
                     director.lower() if director else None, director_key,
                     margin if kind is TableKind.POSITIONAL else 0.0,
                     options.get("max_rows_per_partition", DEFAULT_MAX_ROWS_PER_PARTITION),
                     options.get("allow_orphans", False), options.get("schema_yaml"))


def _refuse_in_spawned_bootstrap() -> None:
    """Refuse an ingest started while a worker process re-imports the caller's script.

    Worker processes are spawned: each re-runs the main script's top level. An ingest called
    there (a script without ``if __name__ == "__main__":``) would wait forever for the table
    lock its own parent holds.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise IngestError(
            "An ingest was started while a worker process was importing your script: ingest "
            "runs its workers as new processes, which re-run the script's top level. Put the "
            "ingest call under 'if __name__ == \"__main__\":'.")


@dataclasses.dataclass(frozen=True, slots=True)
class _Pool:
    """Where the tasks run: ``workers`` local processes, or a dask cluster."""

    workers: int | None
    dask: DaskTarget | None

    def __post_init__(self) -> None:
        if self.workers is not None and self.dask is not None:
            raise IngestError("Give workers (local processes) or dask (a cluster), not both.")

    def open(self, rows: int | None = None) -> tuple[Executor, int]:
        """The executor and the tasks it runs at once, for ``rows`` to read (when known)."""
        if self.dask is None:
            workers = self.workers
            if workers is None and rows is not None and rows <= INLINE_ROWS:
                workers = 1
            return pipeline.make_pool(workers), pipeline.pool_size(workers)
        pool = DaskPool(self.dask)
        return pool, pool.nthreads


def _run(data_dir: Path, spec: TableSpec, new: NewRows, options: IngestOptions
         ) -> TableManifest:
    """Take the table's lock, check the disk, ingest in a transaction, publish."""
    runner = _Pool(options.get("workers"), options.get("dask"))
    progress = options.get("progress", True)
    if runner.dask is not None:  # workers may run in other folders: no relative paths
        data_dir = data_dir.absolute()
    # One writer per table from reading the version it appends to until publishing its own:
    # two ingests at once would otherwise both build on the same version, and the last one
    # published would drop the other's rows.
    name, kind = spec.table, spec.kind
    _refuse_in_spawned_bootstrap()
    with txn.table_lock(data_dir, name, on_wait=_tell):
        old = read_table(data_dir, name)
        if old is not None and old.manifest.kind is not kind:
            raise IngestError(f"Table '{name}' exists as a {old.manifest.kind} table; cannot "
                              f"append {kind} data to it (check --ra/--dec/--director).")
        stream_bytes = 0
        if new.sample is not None and new.nrows:
            stream_bytes = space.estimate_stream_bytes(new.sample, new.nrows, spec.ra,
                                                       spec.dec)
        room = space.check_room(data_dir, list(new.files), pipeline.old_inputs(old),
                                spill=kind is not TableKind.REGULAR, stream_bytes=stream_bytes)
        tx = None
        try:
            tx = txn.begin(data_dir, name)
            return _ingest(data_dir, spec, new, old, tx, runner, progress)
        except BaseException as exc:
            if tx is not None:
                txn.abort(tx)
            if space.is_disk_full(exc):
                raise space.disk_full_error(room) from exc
            raise


def _tell(message: str) -> None:
    """Say on stderr (where the progress bar goes) why an ingest is not progressing."""
    _log.info(message)
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def required_columns(spec: TableSpec) -> dict[str, str]:
    """The columns every input must have, by role (ra, dec, id, director key)."""
    pairs = (("ra", spec.ra), ("dec", spec.dec), ("id", spec.id_column),
             ("director key", spec.director_key))
    return {role: col for role, col in pairs if col}


@dataclasses.dataclass(frozen=True, slots=True)
class _Target:
    """Where an ingest writes: its data directory, its staging folder, the version folder
    it builds there, and the published version it appends to (None: a new table)."""

    data_dir: Path
    tx: Path
    out: Path
    old: PublishedTable | None


def _ingest(
    data_dir: Path, spec: TableSpec, new: NewRows, old: PublishedTable | None,
    tx: Path, runner: _Pool, progress: bool | Literal["always"],
) -> TableManifest:
    start = time.monotonic()
    work = resolve(new, pipeline.old_inputs(old), required_columns(spec), split_rows=SPLIT_ROWS,
                   one_shot_rows=ONE_SHOT_PART_ROWS)
    description, felis = "", None
    if spec.schema_yaml:
        description, felis = read_felis_table(spec.schema_yaml, spec.table.split(".", 1)[1])
    meta = {}
    for found in reversed(work.inputs.probes):
        meta.update({k: v for k, v in found.meta.items() if v.unit or v.ucd or v.description})
    if new.sample is not None:
        meta.update(stream_meta(new.sample.schema))
    columns = build_columns(work.inputs.schema, meta, felis, ra=spec.ra, dec=spec.dec,
                            id_column=spec.id_column)
    out = tx / "out"
    out.mkdir()
    base = dict(name=spec.table, kind=spec.kind, columns=columns, description=description,
                ra_column=spec.ra, dec_column=spec.dec, id_column=spec.id_column,
                director=spec.director, director_key=spec.director_key,
                margin_arcsec=spec.margin_arcsec,
                created=datetime.now(UTC).isoformat(timespec="seconds"))
    if spec.kind is TableKind.REGULAR:
        manifest, files = _regular(spec, work, old, columns, base, out, new)
    else:
        manifest, files = _partitioned(_Target(data_dir, tx, out, old), spec, work, columns,
                                       base, runner, progress)
    version = old.manifest.version + 1 if old else 1
    manifest = dataclasses.replace(
        manifest, ingested_files=(old.manifest.ingested_files if old else ()) + tuple(files),
        version=version,
        extra={**manifest.extra, "ingest_seconds": round(time.monotonic() - start, 3)},
    )
    (out / MANIFEST_NAME).write_text(manifest.to_json())
    txn.commit(data_dir, spec.table, out, tx, base_version=old.manifest.version if old else None)
    return manifest


def _regular(spec: TableSpec, work: Work, old: PublishedTable | None, columns: tuple,
             base: dict, out: Path, new: NewRows
             ) -> tuple[TableManifest, list[pipeline.IngestedFile]]:
    schema = schema_with_metadata(work.inputs.schema, columns)
    rel = f"data/{spec.table.split('.', 1)[1]}.parquet"
    new_files = list(new.files)
    files: list[pipeline.IngestedFile] = []
    if new_files:
        digests = [sha256_file(f) for f in new_files]
        pipeline.check_not_ingested(old, new_files, digests, [0] * len(new_files))
    counts = pipeline.write_regular(work.parts, work.inputs.schema.names, schema, out / rel,
                                    len(work.labels))
    if new_files:
        files = pipeline.check_not_ingested(old, new_files, digests, counts[:len(new_files)])
    manifest = TableManifest(nrows=sum(counts), regular_files=(rel,), **base)  # type: ignore[arg-type]
    return manifest, files


def _partitioned(
    target: _Target, spec: TableSpec, work: Work, columns: tuple, base: dict,
    runner: _Pool, progress: bool | Literal["always"],
) -> tuple[TableManifest, list[pipeline.IngestedFile]]:
    """Pass 1, the layout, the id index, passes 2 and 3, then the HATS metadata."""
    tx, out = target.tx, target.out
    director = director_table(target.data_dir, spec)
    (tx / "spill").mkdir()
    request = ScanRequest(
        schema=work.inputs.schema, work_dir=str(tx / "spill"), hist_order=HISTOGRAM_ORDER,
        ra=spec.ra, dec=spec.dec, id_column=spec.id_column, director_key=spec.director_key,
        director_index=str(director.resolve(director.manifest.id_index))
        if director and director.manifest.id_index else None,
        allow_orphans=spec.allow_orphans, read_order=read_order(work.total))
    table_part = spec.table.split(".", 1)[1]
    schema = schema_with_metadata(
        pa.schema([pa.field(SPATIAL_INDEX_COLUMN, pa.int64()), *work.inputs.schema]), columns)
    pool, n_workers = runner.open(work.total)
    metadata = processes.MetadataProcess(pool, needed=bool(spec.ra))
    with pool, metadata, pipeline.progress_bar(work.total, progress,
                                               f"ingest {spec.table}") as bar:
        if isinstance(pool, DaskPool):
            pool.require_paths([request.work_dir, str(out), *work.inputs.paths])
        t0 = time.monotonic()
        found = scan(work.parts, request, pool, bar, max_pending=n_workers + 1)
        _log.info("pass 1 (%d parts): %.1f s", len(found.parts), time.monotonic() - t0)
        files = _check_new_files(target.old, work, found)
        _check_orphans(spec, work.labels, found)
        layout = plan_layout(
            found.histogram, max_rows=spec.max_rows, table_part=table_part, out=out, work=tx,
            margin_arcsec=spec.margin_arcsec if spec.kind is TableKind.POSITIONAL else 0.0,
            fixed=[(p.order, p.ipix) for p in director.manifest.partitions]
            if director else None)
        id_future = None
        if spec.id_column:  # merged by a worker while the others write partitions
            id_future = pool.submit(pipeline.merge_id_index, list(found.results),
                                    spec.id_column, list(work.labels), out / "id_index.parquet")
        t0 = time.monotonic()
        bar.reset(total=len(layout.orders))
        bar.unit, bar.desc = " partitions", f"write {spec.table}"
        written = write_partitions(
            layout, SpillIndex(found.spills, found.histogram, request.read_order),
            WriteRequest(schema, spec.margin_arcsec, spec.ra, spec.dec), pool, bar, n_workers)
        if id_future is not None:
            id_future.result()
            for res in found.results:
                for path in res.id_spills:
                    os.remove(path)
        _log.info("pass 2+3 (%d partitions): %.1f s", len(layout.orders), time.monotonic() - t0)
        if spec.ra:  # not here: importing hats (pandas, dask) costs ~300 MB of memory
            metadata.submit(
                hats_layout.write_hats, layout.collection_dir, layout.catalog_dir,
                layout.margin_dir, pixels=layout.pixels, written=written.nrows,
                margin_rows=sum(written.margin_counts.values()),
                kind="object" if spec.kind is TableKind.POSITIONAL else "source",
                ra=spec.ra, dec=spec.dec, max_rows=spec.max_rows,
                margin_arcsec=spec.margin_arcsec,
                histogram=cluster.by_reference(pool, found.histogram)).result()
    partitions = pipeline.to_partitions(layout.orders, layout.ipixs, list(written.counts),
                                        written.margin_counts, out, layout.catalog_dir,
                                        layout.margin_dir)
    director_offset: float | None = None
    if spec.kind is TableKind.CHILD and spec.ra:
        # + 1 mas: the director's position is known as its order-29 pixel (~0.4 mas wide)
        director_offset = max((r.director_offset_deg for r in found.results),
                              default=0.0) * 3600 + 1e-3
    return TableManifest(
        nrows=written.nrows, partitions=partitions,
        id_index="id_index.parquet" if spec.id_column else None,
        director_offset_arcsec=director_offset,
        hats_root=f"catalog/{table_part}" if spec.ra else None,
        extra={"orphans_dropped": sum(r.orphans for r in found.results),
               "max_rows_per_partition": spec.max_rows},
        **base,
    ), files


def director_table(data_dir: Path, spec: TableSpec) -> PublishedTable | None:
    """The director table of a child table (which must have an id index), else None."""
    if spec.kind is not TableKind.CHILD:
        return None
    assert spec.director is not None
    dtable = require_table(data_dir, spec.director)
    if not dtable.manifest.id_index:
        raise IngestError(f"Director table '{spec.director}' has no id index; ingest it "
                          "with --id so child rows can be placed.")
    return dtable


def _check_new_files(old: PublishedTable | None, work: Work, found: Scan
                     ) -> list[pipeline.IngestedFile]:
    """The new files' records (sha256, rows); fail if one is already in the table."""
    n = work.n_new_files
    if not n:
        return []
    rows = found.rows_per_input(len(work.labels))
    digests = found.digests(len(work.labels))
    return pipeline.check_not_ingested(old, list(work.inputs.paths[:n]), digests[:n], rows[:n])


def _check_orphans(spec: TableSpec, labels: tuple[str, ...], found: Scan) -> None:
    total = sum(r.orphans for r in found.results)
    if not total or spec.allow_orphans:
        return
    examples = [f"{labels[p.input_index]} {ex}"
                for p, r in zip(found.parts, found.results, strict=True)
                for ex in r.orphan_examples][:5]
    raise IngestError(
        f"{total} row(s) have a '{spec.director_key}' not found in director table "
        f"'{spec.director}', e.g. {'; '.join(examples)}. Ingest the director rows first, or "
        "pass --allow-orphans to drop them."
    )

def attach_hats(data_dir: str | Path, table: str, hats_dir: str | Path) -> TableManifest:
    """Register an existing HATS catalog (or collection) as a table, without copying it.

    Parameters
    ----------
    data_dir
        The data directory.
    table
        ``schema.table`` to register it as.
    hats_dir
        A HATS catalog or collection folder (its margin is used when the collection has one).

    Returns
    -------
    TableManifest
        The published manifest (its paths are absolute).

    Raises
    ------
    IngestError
        The folder is not a readable HATS catalog.
    """
    from engine.ingest.attach import attached_manifest

    data_dir = Path(data_dir)
    name = _check_table_name(table)
    manifest = attached_manifest(name, Path(hats_dir).resolve())
    with txn.table_lock(data_dir, name, on_wait=_tell):
        old = read_table(data_dir, name)
        manifest = dataclasses.replace(manifest, version=old.manifest.version + 1 if old else 1,
                                       created=datetime.now(UTC).isoformat(timespec="seconds"))
        tx = txn.begin(data_dir, name)
        try:
            out = tx / "out"
            out.mkdir()
            (out / MANIFEST_NAME).write_text(manifest.to_json())
            txn.commit(data_dir, name, out, tx,
                       base_version=old.manifest.version if old else None)
        except BaseException:
            txn.abort(tx)
            raise
    return manifest
