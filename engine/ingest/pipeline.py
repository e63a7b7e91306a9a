"""Orchestration of an ingest: probe, pass 1 over files, partitioning, pass 2/3, HATS metadata."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    as_completed,
    wait,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.catalog import IngestedFile, Partition, PublishedTable
from engine.errors import IngestError, suggest
from engine.ingest import hats_layout, processes
from engine.ingest.readers import FileProbe, probe
from engine.ingest.sources import SourcePart
from engine.ingest.workers import ID_SAMPLE_STEP, SpillResult
from engine.sky.healpix import SPATIAL_INDEX_COLUMN


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files of one ingest, probed, with their unified schema."""

    paths: tuple[str, ...]
    probes: tuple[FileProbe, ...]
    schema: pa.Schema
    """Input columns (``_healpix_29`` excluded), in the first file's order."""


def probe_inputs(paths: Iterable[str], required: dict[str, str]) -> Inputs:
    """Probe every file, check required columns and unify their schemas."""
    probes = []
    for path in paths:
        if not Path(path).is_file():
            raise IngestError(f"{path}: no such file.")
        found = probe(path)
        names = [n for n in found.schema.names if n != SPATIAL_INDEX_COLUMN]
        for role, col in required.items():
            if col not in names:
                raise IngestError(
                    f"{path}: no column '{col}' (given as {role})." + suggest(col, names)
                    + f" Columns are: {', '.join(names[:20])}."
                )
        probes.append(found)
    first = probes[0].schema
    names = [n for n in first.names if n != SPATIAL_INDEX_COLUMN]
    for found in probes[1:]:
        extra = set(found.schema.names) - set(first.names) - {SPATIAL_INDEX_COLUMN}
        missing = [n for n in names if n not in found.schema.names]
        if missing or extra:
            raise IngestError(
                f"{found.path}: its columns differ from {probes[0].path}: "
                f"missing {sorted(missing)}, extra {sorted(extra)}. All files must share columns."
            )
    try:
        schema = pa.unify_schemas(
            [pa.schema([p.schema.field(n) for n in names]) for p in probes],
            promote_options="permissive",
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise IngestError(f"Input files have incompatible column types: {exc}") from exc
    for role, col in required.items():
        if role in ("ra", "dec") and not (
            pa.types.is_floating(schema.field(col).type)
            or pa.types.is_integer(schema.field(col).type)
        ):
            bad = next(p.path for p in probes if not pa.types.is_floating(p.schema.field(col).type)
                       and not pa.types.is_integer(p.schema.field(col).type))
            raise IngestError(
                f"{bad}: column '{col}' (given as {role}) has type {schema.field(col).type}; "
                "it must be numeric, in degrees."
            )
    return Inputs(tuple(p.path for p in probes), tuple(probes), schema)


class InlineExecutor(Executor):
    """Runs each task at submission, in this process (``workers=1``: no spawn cost)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn`` now and return its completed future."""
        fut: Future[Any] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - delivered to the caller through the future
            fut.set_exception(exc)
        return fut


def pool_size(workers: int | None) -> int:
    """Worker processes of a pool: ``workers``, or the CPUs (at most 8)."""
    return workers or min(os.cpu_count() or 1, 8)


def make_pool(workers: int | None) -> Executor:
    """Return a process pool (spawned, each worker with its share of the cores as Arrow
    threads: see :mod:`~engine.ingest.processes`), or inline for one worker."""
    n = pool_size(workers)
    if n == 1:
        return InlineExecutor()
    return processes.spawn_pool(n, processes.set_up_worker,
                                (processes.arrow_threads(n),))


def run_all(pool: Executor, fn: Callable[..., Any], jobs: list[Any],
            on_done: Callable[[Any, Any], None]) -> None:
    """Submit every job; call ``on_done(job, result)`` as each finishes; cancel all on error."""
    futures = {pool.submit(fn, job): job for job in jobs}
    try:
        for fut in as_completed(futures):
            on_done(futures[fut], fut.result())
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise


def run_streaming(pool: Executor, fn: Callable[..., Any], jobs: Iterable[Any],
                  on_done: Callable[[Any, Any], None], max_pending: int,
                  shared: tuple[Any, ...] = ()) -> None:
    """Like :func:`run_all`, but take jobs from an iterator as they are needed: at most
    ``max_pending`` are submitted and unfinished at once (jobs may carry rows in memory).
    Each call is ``fn(job, *shared)``."""
    pending: dict[Future[Any], Any] = {}
    try:
        for job in jobs:
            pending[pool.submit(fn, job, *shared)] = job
            while len(pending) >= max_pending:
                _finish_some(pending, on_done)
        while pending:
            _finish_some(pending, on_done)
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


def _finish_some(pending: dict[Future[Any], Any], on_done: Callable[[Any, Any], None]) -> None:
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for fut in done:
        job = pending.pop(fut)
        on_done(job, fut.result())


def progress_bar(total: int | None, enabled: bool | str, desc: str) -> Any:
    """Return a tqdm bar (rows): shown if ``enabled`` is "always", or True on a terminal."""
    from tqdm import tqdm

    show = enabled == "always" or (enabled is True and sys.stderr.isatty())
    return tqdm(total=total, unit=" rows", unit_scale=True, desc=desc, disable=not show,
                file=sys.stderr, smoothing=0.1)


ID_BUCKET_ROWS = 1_000_000
"""Rows per bucket when merging the id index (at least; see :data:`ID_MAX_BUCKETS`)."""

ID_MAX_BUCKETS = 256
"""At most this many buckets: each reads every id spill's overlapping row groups, so a
billion ids in 1M-row buckets would open each spill a thousand times. 8M rows at most per
bucket (a billion ids) is ~200 MB in the worker."""


def merge_id_index(results: list[SpillResult], id_column: str, labels: list[str],
                   out: Path) -> int:
    """Sort every id, fail on duplicates (naming inputs and rows), write ``id_index.parquet``.

    The id space is cut in buckets of about :data:`ID_BUCKET_ROWS` at sampled ids; each
    bucket is read from every (sorted) id spill, with row groups chosen by their id min/max.
    ``labels`` names each input (by ``input_index``) in error messages.
    """
    spills = [_IdSpill.open(s) for r in results for s in r.id_spills]
    samples = [a for r in results for a in r.id_samples if len(a)]
    if not spills or not samples:
        pq.write_table(pa.table({id_column: pa.array([], pa.int64()),
                                 SPATIAL_INDEX_COLUMN: pa.array([], pa.int64())}), out)
        return 0
    cuts = pc.unique(pa.concat_arrays(samples).sort())
    step = max(ID_BUCKET_ROWS // ID_SAMPLE_STEP, -(-len(cuts) // ID_MAX_BUCKETS), 1)
    bounds: list[Any] = [None, *cuts[step::step].to_pylist(), None]
    total = 0
    writer = None
    try:
        for lo, hi in itertools.pairwise(bounds):
            bucket = _read_bucket(spills, id_column, lo, hi)
            _check_ids(bucket, id_column, labels, [s.path for s in spills])
            if writer is None:
                writer = pq.ParquetWriter(out, bucket.schema, **_id_index_options(bucket.schema))
            writer.write_table(bucket, row_group_size=32_768)  # a lookup decodes one: id_index.py
            total += bucket.num_rows
    finally:
        if writer is not None:
            writer.close()
    return total


@dataclass(frozen=True, slots=True)
class _IdSpill:
    """An id spill and the id range of each of its row groups (None: only nulls)."""

    path: str
    ranges: tuple[tuple[Any, Any] | None, ...]
    nulls: tuple[bool, ...]

    @classmethod
    def open(cls, path: str) -> _IdSpill:
        meta = pq.ParquetFile(path).metadata
        ranges, nulls = [], []
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(0).statistics
            ok = stats is not None and stats.has_min_max
            ranges.append((stats.min, stats.max) if ok else None)
            nulls.append(stats is None or stats.null_count != 0)
        return cls(path, tuple(ranges), tuple(nulls))

    def groups(self, lo: Any, hi: Any) -> list[int]:
        """Row groups that may hold ids in ``[lo, hi)`` (nulls go with ``lo is None``)."""
        out = []
        for g, (rng, nulls) in enumerate(zip(self.ranges, self.nulls, strict=True)):
            if rng is None:
                keep = lo is None
            else:
                keep = (hi is None or rng[0] < hi) and (lo is None or rng[1] >= lo)
                keep = keep or (lo is None and nulls)
            if keep:
                out.append(g)
        return out


def _id_index_options(schema: pa.Schema) -> dict[str, Any]:
    """zstd, ids (sorted) delta-encoded, ``_healpix_29`` plain: no dictionary of unique values.

    Measured on 2M rows: 11.3 bytes per row with dictionaries, 7.6 like this (the random
    64-bit ``_healpix_29`` is most of it; sequential ids cost almost nothing).
    """
    ids = schema.field(0)
    delta = ids.type in (pa.int32(), pa.int64(), pa.uint32(), pa.uint64())
    return {"compression": "zstd", "use_dictionary": [] if delta else [ids.name],
            "column_encoding": {ids.name: "DELTA_BINARY_PACKED"} if delta else None}


def _read_bucket(spills: list[_IdSpill], id_column: str, lo: Any, hi: Any) -> pa.Table:
    """Read ids in ``[lo, hi)`` (None: unbounded; the first bucket also takes nulls)."""
    fld = pc.field(id_column)
    expr = None
    if lo is not None:
        expr = fld >= lo
    if hi is not None:
        expr = (fld < hi) if expr is None else (expr & (fld < hi))
    if lo is None and expr is not None:
        expr = expr | fld.is_null()
    pieces = []
    for spill in spills:
        groups = spill.groups(lo, hi)
        if groups:
            part = pq.ParquetFile(spill.path).read_row_groups(
                groups, columns=[id_column, SPATIAL_INDEX_COLUMN], use_threads=False)
            pieces.append(part.filter(expr) if expr is not None else part)
    if not pieces:
        return pq.read_schema(spills[0].path).empty_table().select(
            [id_column, SPATIAL_INDEX_COLUMN])
    return pa.concat_tables(pieces).sort_by(id_column)


def _provenance(spills: list[str], expr: pc.Expression) -> list[dict[str, Any]]:
    """Return the file index and row number of the id spill rows matching ``expr``."""
    return [row for s in spills for row in pq.read_table(s, filters=expr).to_pylist()]


def _check_ids(table: pa.Table, id_column: str, paths: list[str], spills: list[str]) -> None:
    ids = table.column(id_column).combine_chunks()
    if ids.null_count:
        bad = _provenance(spills, pc.field(id_column).is_null())[0]
        raise IngestError(f"{paths[bad['_file']]}: column '{id_column}' is null at row "
                          f"{bad['_row']}; ids must be unique and not null.")
    if len(ids) < 2:
        return
    dup = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
    if not pc.any(dup).as_py():
        return
    first = int(np.flatnonzero(dup.to_numpy(zero_copy_only=False))[0])
    value = ids[first].as_py()
    rows = _provenance(spills, pc.field(id_column) == value)
    where = "; ".join(f"{paths[r['_file']]} row {r['_row']}" for r in rows[:5])
    raise IngestError(
        f"Duplicate id {value!r} in column '{id_column}': {where}. Ids of a director "
        "table must be unique; remove the duplicates (or ingest without --id)."
    )


def write_regular(parts: Iterable[SourcePart], names: list[str], schema: pa.Schema, out: Path,
                  n_inputs: int) -> list[int]:
    """Copy every input into one Parquet file (a small, replicated table); rows per input."""
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = [0] * n_inputs
    # No float statistics: NaN is left out of them, so pruning by them would drop NaN rows
    # that SQL orders above every number (see workers.final_write_options).
    stats = [f.name for f in schema if not pa.types.is_floating(f.type)]
    with pq.ParquetWriter(out, schema, compression="zstd", write_statistics=stats) as writer:
        for part in parts:
            nrows = part.row_offset
            for batch in part.batches(names):
                try:
                    arrays = [batch.column(n).cast(schema.field(n).type) for n in schema.names]
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise IngestError(f"{part.label}: rows after {nrows} do not match the "
                                      f"types of the first input: {exc}") from exc
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
                nrows += batch.num_rows
            counts[part.input_index] += nrows - part.row_offset
    return counts


def old_inputs(old: PublishedTable | None) -> list[str]:
    """Return the data files of a published version, to stream into an append."""
    if old is None:
        return []
    if old.manifest.regular_files:
        return [str(old.resolve(p)) for p in old.manifest.regular_files]
    return [str(old.resolve(p.path)) for p in old.manifest.partitions if p.nrows]


def check_not_ingested(old: PublishedTable | None, files: list[str],
                       digests: list[tuple[str, int]], rows: list[int]) -> list[IngestedFile]:
    """Fail if one of the new files is already part of the table (same sha256) or repeated."""
    known = {f.sha256: f for f in (old.manifest.ingested_files if old else ())}
    out = []
    seen: dict[str, str] = {}
    for path, (digest, size), nrows in zip(files, digests, rows, strict=True):
        if digest in known:
            raise IngestError(
                f"{path}: this file (sha256 {digest[:12]}…) is already ingested in table "
                f"'{old.manifest.name if old else ''}' as {known[digest].path} "
                f"(version {old.manifest.version if old else 0}); nothing was done."
            )
        if digest in seen:
            raise IngestError(f"{path}: same content as {seen[digest]}, given twice.")
        seen[digest] = path
        out.append(IngestedFile(path=str(Path(path).resolve()), sha256=digest, size=size,
                                rows=nrows))
    return out


def to_partitions(orders: np.ndarray, ipixs: np.ndarray, counts: list[int],
                  margins: dict[int, int], version_dir: Path, catalog_dir: Path,
                  margin_dir: Path | None) -> tuple[Partition, ...]:
    """Return the manifest's partitions, with paths relative to the version folder."""
    out = []
    for i, (order, ipix) in enumerate(zip(orders.tolist(), ipixs.tolist(), strict=True)):
        path = hats_layout.partition_file(catalog_dir, order, ipix).relative_to(version_dir)
        mpath = None
        if margin_dir is not None:
            mpath = str(hats_layout.partition_file(margin_dir, order, ipix).relative_to(
                version_dir))
        out.append(Partition(order=order, ipix=ipix, nrows=counts[i], path=str(path),
                             margin_path=mpath, margin_nrows=margins.get(i, 0)))
    return tuple(out)
