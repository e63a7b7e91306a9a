"""Ingest entry points: :func:`ingest_files` and :func:`attach_hats`."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from engine.catalog import (
    MANIFEST_NAME,
    TableKind,
    TableManifest,
    read_table,
    require_table,
)
from engine.errors import IngestError
from engine.ingest import hats_layout, pipeline, space, txn
from engine.ingest.metadata import build_columns, read_felis_table, schema_with_metadata
from engine.ingest.partitioning import (
    DEFAULT_MAX_ROWS_PER_PARTITION,
    HISTOGRAM_ORDER,
    choose_partitions,
)
from engine.ingest.readers import split_parquet
from engine.ingest.workers import (
    SpillJob,
    SpillResult,
    merge_margin,
    sha256_file,
    spill_file,
    write_partition,
)
from engine.sky.healpix import SPATIAL_INDEX_COLUMN

_log = logging.getLogger(__name__)

SPLIT_ROWS = 400_000
"""Parquet inputs bigger than this are read by several workers, row groups apiece."""

DEFAULT_MARGIN_ARCSEC = 10.0
"""Overlap kept around each partition. It must exceed the largest cross-match radius we
accept, or pairs straddling a partition edge are lost."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Spec:
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


def _check_table_name(table: str) -> str:
    parts = table.split(".")
    if len(parts) != 2 or not all(p.isidentifier() for p in parts):
        raise IngestError(f"Table name '{table}' must be 'schema.table' (e.g. dp1.object).")
    return table.lower()


def ingest_files(
    data_dir: str | Path,
    table: str,
    files: list[str] | tuple[str, ...],
    *,
    ra: str | None = None,
    dec: str | None = None,
    id_column: str | None = None,
    director: str | None = None,
    director_key: str | None = None,
    schema_yaml: str | Path | None = None,
    margin_arcsec: float = DEFAULT_MARGIN_ARCSEC,
    max_rows_per_partition: int = DEFAULT_MAX_ROWS_PER_PARTITION,
    allow_orphans: bool = False,
    workers: int | None = None,
    progress: bool | Literal["always"] = True,
) -> TableManifest:
    """Ingest files into a table (a new table or a new version appending to it).

    Parameters
    ----------
    data_dir
        The data directory.
    table
        ``schema.table``.
    files
        Parquet, CSV, FITS or VOTable files sharing their columns.
    ra, dec
        Position columns (degrees): the table is positional, partitioned on the sky.
        Values must be finite, ra in [0, 360] (360 is accepted and is the same place as
        0; values are stored unchanged) and dec in [-90, 90]; anything else is an error
        naming the file, row and column (no silent wrapping).
    id_column
        Unique id of a positional table, indexed (the table becomes a director).
    director, director_key
        Make a child table placed with its director's rows, by this foreign key.
    schema_yaml
        A Felis YAML schema giving units, UCDs and descriptions.
    margin_arcsec
        Margin radius kept around each partition.
    max_rows_per_partition
        Adaptive partitioning threshold.
    allow_orphans
        Drop (and report) child rows whose director key is unknown instead of failing.
    workers
        Worker processes (default: the number of CPUs, at most 8).
    progress
        True: a progress bar on stderr when it is a terminal; ``"always"``: even when it
        is not; False: none.

    Returns
    -------
    TableManifest
        The published manifest.

    Raises
    ------
    IngestError
        Bad input or arguments, or a disk too small or full; nothing published was changed.

    Notes
    -----
    Ingests into one table run one at a time: a second one waits for the first to
    publish (saying so on stderr), then adds its rows to that version.
    """
    data_dir = Path(data_dir)
    name = _check_table_name(table)
    if (ra is None) != (dec is None):
        raise IngestError("Give both --ra and --dec, or neither.")
    if (director is None) != (director_key is None):
        raise IngestError("Give both --director and --director-key, or neither.")
    if not files:
        raise IngestError("No input files given.")
    kind = (TableKind.CHILD if director else
            TableKind.POSITIONAL if ra else TableKind.REGULAR)
    spec = _Spec(name, kind, ra, dec, id_column, director.lower() if director else None,
                 director_key, margin_arcsec if kind is TableKind.POSITIONAL else 0.0,
                 max_rows_per_partition, allow_orphans)
    new_files = [str(Path(f)) for f in files]
    # One writer per table from reading the version it appends to until publishing its own:
    # two ingests at once would otherwise both build on the same version, and the last one
    # published would drop the other's rows.
    with txn.table_lock(data_dir, name, on_wait=_tell):
        old = read_table(data_dir, name)
        if old is not None and old.manifest.kind is not kind:
            raise IngestError(f"Table '{name}' exists as a {old.manifest.kind} table; cannot "
                              f"append {kind} data to it (check --ra/--dec/--director).")
        room = space.check_room(data_dir, new_files, pipeline.old_inputs(old),
                                spill=kind is not TableKind.REGULAR)
        tx = None
        try:
            tx = txn.begin(data_dir, name)
            return _ingest(data_dir, spec, new_files, old, tx, schema_yaml, workers, progress)
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


def _required(spec: _Spec) -> dict[str, str]:
    pairs = (("ra", spec.ra), ("dec", spec.dec), ("id", spec.id_column),
             ("director key", spec.director_key))
    return {role: col for role, col in pairs if col}


def _ingest(
    data_dir: Path, spec: _Spec, new_files: list[str], old: pipeline.PublishedTable | None,
    tx: Path, schema_yaml: str | Path | None,
    workers: int | None, progress: bool | Literal["always"],
) -> TableManifest:
    start = time.monotonic()
    inputs = pipeline.probe_inputs(new_files + pipeline.old_inputs(old), _required(spec))
    description, felis = "", None
    if schema_yaml:
        description, felis = read_felis_table(schema_yaml, spec.table.split(".", 1)[1])
    meta = {}
    for found in reversed(inputs.probes):
        meta.update({k: v for k, v in found.meta.items() if v.unit or v.ucd or v.description})
    columns = build_columns(inputs.schema, meta, felis, ra=spec.ra, dec=spec.dec,
                            id_column=spec.id_column)
    out = tx / "out"
    out.mkdir()
    base = dict(name=spec.table, kind=spec.kind, columns=columns, description=description,
                ra_column=spec.ra, dec_column=spec.dec, id_column=spec.id_column,
                director=spec.director, director_key=spec.director_key,
                margin_arcsec=spec.margin_arcsec,
                created=datetime.now(UTC).isoformat(timespec="seconds"))
    if spec.kind is TableKind.REGULAR:
        schema = schema_with_metadata(inputs.schema, columns)
        rel = f"data/{spec.table.split('.', 1)[1]}.parquet"
        digests = [sha256_file(f) for f in new_files]
        pipeline.check_not_ingested(old, new_files, digests, [0] * len(new_files))
        counts = pipeline.write_regular(inputs, schema, out / rel)
        files = pipeline.check_not_ingested(old, new_files, digests, counts[:len(new_files)])
        manifest = TableManifest(nrows=sum(counts), regular_files=(rel,), **base)  # type: ignore[arg-type]
    else:
        manifest, files = _partitioned(data_dir, spec, inputs, columns, base, tx, out,
                                       workers, progress, old, len(new_files))
    version = old.manifest.version + 1 if old else 1
    manifest = dataclasses.replace(
        manifest, ingested_files=(old.manifest.ingested_files if old else ()) + tuple(files),
        version=version,
        extra={**manifest.extra, "ingest_seconds": round(time.monotonic() - start, 3)},
    )
    (out / MANIFEST_NAME).write_text(manifest.to_json())
    txn.commit(data_dir, spec.table, out, tx, base_version=old.manifest.version if old else None)
    return manifest


def _partitioned(
    data_dir: Path, spec: _Spec, inputs: pipeline.Inputs, columns: tuple, base: dict,
    tx: Path, out: Path, workers: int | None, progress: bool | Literal["always"],
    old: pipeline.PublishedTable | None, n_new: int,
) -> tuple[TableManifest, list[pipeline.IngestedFile]]:
    spill_dir, margin_work = tx / "spill", tx / "margin"
    spill_dir.mkdir()
    margin_work.mkdir()
    director_index = None
    if spec.kind is TableKind.CHILD:
        assert spec.director is not None
        dtable = require_table(data_dir, spec.director)
        if not dtable.manifest.id_index:
            raise IngestError(f"Director table '{spec.director}' has no id index; ingest it "
                              "with --id so child rows can be placed.")
        director_index = str(dtable.resolve(dtable.manifest.id_index))
    in_schema = inputs.schema
    jobs: list[SpillJob] = []
    for i, path in enumerate(inputs.paths):
        for k, (groups, offset) in enumerate(split_parquet(path, SPLIT_ROWS)):
            jobs.append(SpillJob(
                path=path, file_index=i, schema=in_schema, work_dir=str(spill_dir),
                hist_order=HISTOGRAM_ORDER, ra=spec.ra, dec=spec.dec, id_column=spec.id_column,
                director_key=spec.director_key, director_index=director_index,
                allow_orphans=spec.allow_orphans, hash_input=i < n_new and k == 0,
                job_index=len(jobs), row_groups=groups, row_offset=offset))
    known = [p.nrows for p in inputs.probes]
    total = sum(n for n in known if n is not None) if all(n is not None for n in known) else None
    results: dict[int, SpillResult] = {}
    with pipeline.make_pool(workers) as pool, \
            pipeline.progress_bar(total, progress, f"ingest {spec.table}") as bar:
        hist = np.zeros(12 * 4**HISTOGRAM_ORDER, dtype=np.int64)

        def done_spill(job: SpillJob, res: SpillResult) -> None:
            np.add.at(hist, res.hist_pix, res.hist_counts)
            res.hist_pix = res.hist_counts = np.zeros(0, np.int64)  # free them early
            results[job.job_index] = res
            bar.update(res.nrows)
        t0 = time.monotonic()
        pipeline.run_all(pool, spill_file, jobs, done_spill)
        _log.info("pass 1 (%d spill jobs): %.1f s", len(jobs), time.monotonic() - t0)
        t0 = time.monotonic()
        ordered = [results[i] for i in range(len(jobs))]
        rows = [0] * len(inputs.paths)
        digests = [("", 0)] * len(inputs.paths)
        for job, res in zip(jobs, ordered, strict=True):
            rows[job.file_index] += res.nrows
            if job.hash_input:
                digests[job.file_index] = (res.sha256, res.size)
        files = pipeline.check_not_ingested(
            old, list(inputs.paths[:n_new]), digests[:n_new], rows[:n_new])
        _check_orphans(spec, inputs, jobs, ordered)
        table_part = spec.table.split(".", 1)[1]
        collection = out / "catalog"
        catalog_dir = collection / table_part
        if spec.kind is TableKind.CHILD:
            parts = dtable.manifest.partitions
            orders = np.array([p.order for p in parts], dtype=np.int64)
            ipixs = np.array([p.ipix for p in parts], dtype=np.int64)
        else:
            orders, ipixs = choose_partitions(hist, spec.max_rows)
        lookup = max(HISTOGRAM_ORDER, int(orders.max()) if len(orders) else 0)
        margin_dir = None
        if spec.kind is TableKind.POSITIONAL and spec.margin_arcsec > 0:
            margin_dir = collection / hats_layout.margin_name(table_part, spec.margin_arcsec)
        id_index = id_future = None
        if spec.id_column:  # merged by a worker while the others write partitions
            id_index = "id_index.parquet"
            id_future = pool.submit(pipeline.merge_id_index, ordered, spec.id_column,
                                    list(inputs.paths), out / id_index)
        schema = schema_with_metadata(
            pa.schema([pa.field(SPATIAL_INDEX_COLUMN, pa.int64()), *in_schema]), columns)
        _log.info("partitioning: %.1f s", time.monotonic() - t0)
        t0 = time.monotonic()
        pjobs = pipeline.partition_jobs(
            orders, ipixs, ordered, catalog_dir=catalog_dir, schema=schema,
            margin_dir=margin_work if margin_dir else None, margin_arcsec=spec.margin_arcsec,
            ra=spec.ra, dec=spec.dec, lookup_order=lookup)
        counts = [0] * len(pjobs)
        shards: dict[int, list[str]] = {}

        bar.reset(total=len(pjobs))
        bar.unit, bar.desc = " partitions", f"write {spec.table}"

        def done_part(job: pipeline.PartitionJob, res: tuple[int, list]) -> None:
            bar.update(1)
            counts[job.index] = res[0]
            for target, path, _n in res[1]:
                shards.setdefault(target, []).append(path)
        pipeline.run_all(pool, write_partition, pjobs, done_part)
        margin_counts: dict[int, int] = {}
        if margin_dir is not None:
            futs = {i: pool.submit(merge_margin, sorted(shards.get(i, [])),
                                   str(hats_layout.partition_file(margin_dir, o, p)), schema)
                    for i, (o, p) in enumerate(zip(orders.tolist(), ipixs.tolist(),
                                                   strict=True))}
            margin_counts = {i: f.result() for i, f in futs.items()}
        if id_future is not None:
            id_future.result()
        _log.info("pass 2+3 (%d partitions): %.1f s", len(pjobs), time.monotonic() - t0)
        t0 = time.monotonic()
    pixels = list(zip(orders.tolist(), ipixs.tolist(), strict=True))
    nrows = sum(counts)
    hats_kind = "object" if spec.kind is TableKind.POSITIONAL else "source"
    if spec.ra:
        hats_layout.write_catalog_metadata(
            catalog_dir, name=table_part, kind=hats_kind, pixels=pixels, total_rows=nrows,
            ra=spec.ra, dec=spec.dec, max_rows=spec.max_rows, histogram=hist)
        margin = None
        if margin_dir is not None:
            margin = margin_dir.name
            hats_layout.write_catalog_metadata(
                margin_dir, name=margin, kind="margin", pixels=pixels,
                total_rows=sum(margin_counts.values()), ra=spec.ra, dec=spec.dec,
                margin_arcsec=spec.margin_arcsec, primary=table_part)
        hats_layout.write_collection(collection, table_part, margin)
    _log.info("HATS metadata: %.1f s", time.monotonic() - t0)
    partitions = pipeline.to_partitions(orders, ipixs, counts, margin_counts, out, catalog_dir,
                                        margin_dir)
    director_offset: float | None = None
    if spec.kind is TableKind.CHILD and spec.ra:
        # + 1 mas: the director's position is known as its order-29 pixel (~0.4 mas wide)
        director_offset = max((r.director_offset_deg for r in ordered), default=0.0) * 3600 + 1e-3
    return TableManifest(
        nrows=nrows, partitions=partitions, id_index=id_index,
        director_offset_arcsec=director_offset,
        hats_root=f"catalog/{table_part}" if spec.ra else None,
        extra={"orphans_dropped": sum(r.orphans for r in ordered),
               "max_rows_per_partition": spec.max_rows},
        **base,
    ), files


def _check_orphans(spec: _Spec, inputs: pipeline.Inputs, jobs: list[SpillJob],
                   results: list[SpillResult]) -> None:
    total = sum(r.orphans for r in results)
    if not total or spec.allow_orphans:
        return
    examples = [f"{inputs.paths[j.file_index]} {ex}" for j, r in zip(jobs, results, strict=True)
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
