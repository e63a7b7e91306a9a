"""The per-file and per-partition steps of an ingest, run in worker processes.

Pass 1 (:func:`spill_file`): read one part of the input in batches, validate, compute
``_healpix_29``, write spill files sorted by it (one per sky bucket), count rows per
histogram pixel.
Pass 2 (:func:`write_partition_group`): gather a group of consecutive partitions' rows
from the spills of their buckets (whole row groups: pass 1 cuts them on the read grid),
sort, write each partition's HATS file and the margin shards it sends out.
Pass 3 (:func:`merge_margin`): concatenate the shards a partition received.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import healpy as hp
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.catalog import PARTITION_PAGE_ROWS, PARTITION_ROW_GROUP_ROWS
from engine.errors import IngestError
from engine.ingest.partitioning import HISTOGRAM_ORDER
from engine.ingest.sorting import is_ascending, stable_argsort
from engine.ingest.sources import FilePart, SourcePart
from engine.sky.healpix import (
    SPATIAL_INDEX_COLUMN,
    SPATIAL_INDEX_ORDER,
    pixel_range,
    spatial_index,
    to_order,
)
from engine.sky.margins import PartitionMap, margin_targets
from engine.sky.regions import angular_distance_deg

SPILL_ROWS = 2_000_000
"""Rows buffered before a sorted spill is written (bounds a worker's memory)."""

SPILL_ROW_GROUP = 16_384
"""Spill row groups hold at most this many rows (and never straddle a read-grid cell)."""

READ_CELL_ROWS = 2_000_000
"""Rows of the average cell of the read grid (see :func:`read_order`), at most."""

DEFAULT_READ_ORDER = 2
"""Read-grid order when the rows to ingest are not known in advance (192 cells)."""

ID_SAMPLE_STEP = 8_192
"""Sampling step of ids in pass 1; the id index is merged in buckets cut at these samples."""

_SPILL_OPTS: dict[str, Any] = {"compression": "lz4", "write_statistics": [SPATIAL_INDEX_COLUMN]}
"""Spills are read once: a fast codec, in the published files' encodings (as compact)."""

BUCKET_ORDER = 1
"""Spill files are cut by the order-1 pixel (48 buckets): pass 2 writes partitions in
``_healpix_29`` order and deletes a bucket's spills once its partitions are written, so
the spill and the output never both hold the whole table."""


def read_order(total: int | None) -> int:
    """Return the order of the read grid for an ingest of ``total`` rows (None: unknown).

    Pass 1 cuts spill row groups at the grid's cells (HEALPix pixels of this order) and
    pass 2 reads whole cells, so every spilled row group is read once, by one pass-2 job.
    The grid is the coarsest at least :data:`BUCKET_ORDER` whose cells hold at most
    :data:`READ_CELL_ROWS` rows on average: a pass-2 job holds a cell in memory, and a
    finer grid would cut each pass-1 sorted run in smaller row groups.

    Examples
    --------
    >>> read_order(20_000_000), read_order(100_000_000), read_order(10**9), read_order(None)
    (1, 2, 3, 2)
    """
    if total is None:
        return DEFAULT_READ_ORDER
    order = BUCKET_ORDER
    while total > READ_CELL_ROWS * 12 * 4**order and order < HISTOGRAM_ORDER:
        order += 1
    return order


DICTIONARY_MAX_SHARE = 0.125
"""An integer column is dictionary-encoded when its distinct values are at most this
share of the rows (flags, bands, small codes); otherwise it is delta-encoded."""


def partition_write_options(schema: pa.Schema, table: pa.Table | None = None) -> dict[str, Any]:
    """Return every ``pq.write_table`` option of a published partition file.

    :func:`final_write_options` plus the row groups of :data:`PARTITION_ROW_GROUP_ROWS`
    rows and a page index over pages of :data:`PARTITION_PAGE_ROWS` rows. The partition
    writer and the disk estimate's sample (:mod:`engine.ingest.space`) both use it, so
    the estimate counts the page index's bytes too.
    """
    return {"row_group_size": PARTITION_ROW_GROUP_ROWS, "write_page_index": True,
            "max_rows_per_page": PARTITION_PAGE_ROWS, **final_write_options(schema, table)}


def final_write_options(schema: pa.Schema, table: pa.Table | None = None) -> dict[str, Any]:
    """Parquet options of published files: snappy, each column in the encoding that suits it.

    Measured on 2M synthetic rows (ra, dec, id, five float32 mags, int16 flags), bytes per
    row and the best of 15 DuckDB scans (2 threads, load average ~8, so noisy):

    ==========================  =========  =============  ===================
    encoding                    B/row      GROUP BY flags  aggregate 6 columns
    ==========================  =========  =============  ===================
    dictionary on every column  67.9       22 ms          165 ms
    no dictionary (plain)       50.4       20 ms          51 ms
    **this** (snappy)           **38.5**   22 ms          69 ms
    the same with zstd-1        36.9       13 ms          74 ms
    ==========================  =========  =============  ===================

    - Floats: BYTE_STREAM_SPLIT. A dictionary of unique floats costs ~1.5x their size
      (the 64k-row group fits under the dictionary page limit, so it never falls back);
      split byte streams let snappy squeeze the exponent and high mantissa bytes, which
      vary little inside one partition.
    - ``_healpix_29`` (sorted) and high-cardinality integers (ids): DELTA_BINARY_PACKED.
    - Low-cardinality integers (at most :data:`DICTIONARY_MAX_SHARE` of the rows
      distinct), small integers and strings: dictionary.

    Snappy rather than zstd: zstd decoded 2.5x slower for full scans when it was first
    measured (GROUP BY over 20M rows: 381 -> 149 ms) for ~5% fewer bytes here.

    Min/max statistics leave NaN out, but SQL engines (DuckDB, PostgreSQL) order NaN above
    every number, so a reader pruning row groups by those statistics would drop NaN rows
    from ``x > 20``. Float columns holding NaN in ``table`` are therefore written without
    statistics; every other column (``_healpix_29`` first) keeps them.
    """
    with_stats = [f.name for f in schema if table is None or not (
        pa.types.is_floating(f.type) and table.num_rows
        and pc.any(pc.is_nan(table.column(f.name))).as_py())]
    encoding: dict[str, str] = {}
    dictionary: list[str] = []
    for f in schema:
        kind = f.type
        if pa.types.is_floating(kind) and not pa.types.is_float16(kind):
            encoding[f.name] = "BYTE_STREAM_SPLIT"
        elif f.name == SPATIAL_INDEX_COLUMN or (
                kind in (pa.int32(), pa.int64(), pa.uint32(), pa.uint64())
                and not _few_distinct(table, f.name)):
            encoding[f.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(
                kind) or pa.types.is_dictionary(kind):
            dictionary.append(f.name)
    return {"compression": "snappy", "use_dictionary": dictionary,
            "column_encoding": encoding, "write_statistics": with_stats}


def _few_distinct(table: pa.Table | None, name: str) -> bool:
    """True when a column's distinct values are few enough for a dictionary to pay."""
    if table is None or not table.num_rows:
        return False
    limit = max(table.num_rows * DICTIONARY_MAX_SHARE, 1)
    column = table.column(name)
    # The first rows alone may hold too many distinct values (ids: every one): counting
    # them answers for 1/8 of the cost of counting all (0.42 s per 2M unique ids).
    head = column.slice(0, int(limit) + 1)
    if len(head) < len(column) and pc.count_distinct(head, mode="all").as_py() > limit:
        return False
    return pc.count_distinct(column, mode="all").as_py() <= limit


@dataclass(frozen=True, slots=True)
class SpillJob:
    """Instructions for pass 1 on one part of the input (see :mod:`engine.ingest.sources`)."""

    part: SourcePart
    schema: pa.Schema
    work_dir: str
    hist_order: int
    ra: str | None = None
    dec: str | None = None
    id_column: str | None = None
    director_key: str | None = None
    director_index: str | None = None
    allow_orphans: bool = False
    job_index: int = 0
    read_order: int = BUCKET_ORDER
    """Order of the read grid: no spill row group straddles one of its cells."""


@dataclass(frozen=True, slots=True)
class SpillFile:
    """One spill file: rows of one pass-1 job in one sky bucket, sorted by ``_healpix_29``
    within each row group, with each row group's min and max of it."""

    path: str
    bucket: int
    mins: tuple[int, ...]
    maxs: tuple[int, ...]


@dataclass(slots=True)
class SpillResult:
    """What pass 1 learned about one part of the input."""

    nrows: int = 0
    spills: list[SpillFile] = field(default_factory=list)
    id_spills: list[str] = field(default_factory=list)
    id_samples: list[pa.Array] = field(default_factory=list)
    """Every :data:`ID_SAMPLE_STEP`-th id of each id spill, to cut the id space in buckets."""
    hist_pix: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hist_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sha256: str = ""
    size: int = 0
    orphans: int = 0
    orphan_examples: list[str] = field(default_factory=list)
    director_offset_deg: float = 0.0
    """Child rows with their own positions: the largest distance of a row's position from
    the position of the director row it is placed with (its ``_healpix_29``)."""


def sha256_file(path: str) -> tuple[str, int]:
    """Return the hex sha256 and size of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), os.path.getsize(path)


def _release_memory_promptly() -> None:
    """Let jemalloc hand freed pages back at once, so workers' RSS tracks their real use."""
    with contextlib.suppress(NotImplementedError):  # Arrow built without jemalloc
        pa.jemalloc_set_decay_ms(0)


def _bad_rows(job: SpillJob, column: str, mask: np.ndarray, offset: int, why: str) -> IngestError:
    rows = (np.flatnonzero(mask)[:5] + offset + 1).tolist()
    more = int(mask.sum()) - len(rows)
    where = ", ".join(str(r) for r in rows) + (f" and {more} more" if more > 0 else "")
    return IngestError(
        f"{job.part.label}: column '{column}' {why} at row {where} (rows count from 1). "
        "Fix or remove these rows and ingest again; nothing was published."
    )


def _positions(job: SpillJob, batch: pa.RecordBatch, offset: int) -> np.ndarray:
    """Validate ra/dec of a batch and return their ``_healpix_29``."""
    coords = []
    for name, lo, hi in ((job.ra, 0.0, 360.0), (job.dec, -90.0, 90.0)):
        assert name is not None
        col = batch.column(name)
        values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = ~np.isfinite(values)
        if col.null_count:
            bad |= np.asarray(col.is_null().to_numpy(zero_copy_only=False))
        if bad.any():
            raise _bad_rows(job, name, bad, offset, "is null or NaN")
        out = (values < lo) | (values > hi)
        if out.any():
            first = values[np.flatnonzero(out)[0]]
            raise _bad_rows(job, name, out, offset,
                            f"is out of range [{lo:g}, {hi:g}] degrees (value {first!r})")
        coords.append(values)
    return spatial_index(coords[0], coords[1])


def _director_lookup(job: SpillJob, keys: pa.Array, offset: int,
                     index: tuple[np.ndarray, np.ndarray], result: SpillResult) -> tuple[
                         np.ndarray, np.ndarray]:
    """Return (director ``_healpix_29``, found mask) of each child row."""
    ids, hpix = index
    values = keys.to_numpy(zero_copy_only=False)
    pos = np.searchsorted(ids, values)
    pos_c = np.minimum(pos, len(ids) - 1) if len(ids) else pos
    found = (pos < len(ids)) & (ids[pos_c] == values) if len(ids) else np.zeros(len(values), bool)
    missing = np.flatnonzero(~found)
    if len(missing):
        result.orphans += len(missing)
        for i in missing[: 5 - len(result.orphan_examples)]:
            result.orphan_examples.append(
                f"row {offset + i + 1} ({job.director_key}={values[i]!r})")
    return (hpix[pos_c] if len(ids) else np.zeros(len(values), np.int64)), found


def _director_offset_deg(job: SpillJob, batch: pa.RecordBatch, hpix: np.ndarray) -> float:
    """Return the largest distance (deg) between child rows and the director pixels they
    are placed in (order-29 pixel centres, within a milliarcsecond of the director rows)."""
    assert job.ra is not None and job.dec is not None
    ra = np.asarray(batch.column(job.ra).to_numpy(zero_copy_only=False), dtype=np.float64)
    dec = np.asarray(batch.column(job.dec).to_numpy(zero_copy_only=False), dtype=np.float64)
    d_ra, d_dec = hp.pix2ang(1 << SPATIAL_INDEX_ORDER, hpix, nest=True, lonlat=True)
    return float(angular_distance_deg(ra, dec, d_ra, d_dec).max())


def spill_file(job: SpillJob) -> SpillResult:
    """Run pass 1 on one part of the input (see module docstring)."""
    _release_memory_promptly()
    part = job.part
    result = SpillResult()
    if isinstance(part, FilePart) and part.hash_input:
        result.sha256, result.size = sha256_file(part.path)
    columns = job.schema.names
    index = None
    if job.director_index:
        table = pq.read_table(job.director_index)
        index = (table.column(0).to_numpy(), table.column(1).to_numpy())
    buffer: list[pa.Table] = []
    buffered = 0
    hist: list[np.ndarray] = []
    offset = part.row_offset
    writers = _BucketWriters(job)
    try:
        for batch in part.batches(columns):
            table, hpix = _prepare(job, batch, offset, index, result)
            pix, counts = np.unique(to_order(hpix, job.hist_order), return_counts=True)
            hist.append(np.stack([pix, counts]))
            buffer.append(table)
            buffered += table.num_rows
            offset += batch.num_rows
            if buffered >= SPILL_ROWS:
                _write_spill(job, result, buffer, writers)
                buffer, buffered = [], 0
        if buffer:
            _write_spill(job, result, buffer, writers)
    finally:
        result.spills = writers.close()
    result.nrows = offset - part.row_offset
    if hist:
        both = np.concatenate(hist, axis=1)
        pix, inverse = np.unique(both[0], return_inverse=True)
        result.hist_pix, result.hist_counts = pix, np.bincount(inverse, weights=both[1]).astype(
            np.int64)
    return result


def _prepare(job: SpillJob, batch: pa.RecordBatch, offset: int,
             index: tuple[np.ndarray, np.ndarray] | None, result: SpillResult
             ) -> tuple[pa.Table, np.ndarray]:
    """Validate a batch and return it as a table led by ``_healpix_29``, and that column."""
    part = job.part
    try:
        batch = pa.RecordBatch.from_arrays(
            [batch.column(n).cast(job.schema.field(n).type) for n in job.schema.names],
            schema=job.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise IngestError(f"{part.label}: rows {offset + 1}-{offset + batch.num_rows} do not "
                          f"match the types of the first input: {exc}") from exc
    if index is not None:
        if job.ra and job.dec:
            _positions(job, batch, offset)  # validate the child's own positions
        assert job.director_key is not None
        hpix, found = _director_lookup(job, batch.column(job.director_key), offset, index,
                                       result)
        if not found.all():
            batch, hpix = batch.filter(pa.array(found)), hpix[found]
        if job.ra and job.dec and len(hpix):
            result.director_offset_deg = max(result.director_offset_deg,
                                             _director_offset_deg(job, batch, hpix))
    else:
        hpix = _positions(job, batch, offset)
    table = pa.Table.from_batches([batch]).add_column(
        0, SPATIAL_INDEX_COLUMN, pa.array(hpix, pa.int64()))
    if job.id_column:
        table = table.append_column("_file", pa.array(np.full(len(hpix), part.input_index,
                                                              np.int32)))
        table = table.append_column("_row", pa.array(np.arange(len(hpix)) + offset + 1))
    return table, hpix


def bucket_of(hpix: np.ndarray) -> np.ndarray:
    """Return the spill bucket (the order-:data:`BUCKET_ORDER` pixel) of each ``_healpix_29``."""
    return np.right_shift(hpix, 2 * (SPATIAL_INDEX_ORDER - BUCKET_ORDER))


class _BucketWriters:
    """One spill file per sky bucket for a pass-1 job, opened on its first rows."""

    def __init__(self, job: SpillJob) -> None:
        self.job = job
        self.schema = pa.schema([pa.field(SPATIAL_INDEX_COLUMN, pa.int64()), *job.schema])
        self.options = {**final_write_options(self.schema), **_SPILL_OPTS}
        self.open: dict[int, tuple[pq.ParquetWriter, str, list[int], list[int]]] = {}

    def write(self, bucket: int, table: pa.Table, hpix: np.ndarray) -> None:
        """Append sorted rows of one bucket in row groups of at most :data:`SPILL_ROW_GROUP`
        rows, cut at every cell of the read grid."""
        if bucket not in self.open:
            path = str(Path(self.job.work_dir) / f"b{bucket:03d}_j{self.job.job_index:05d}"
                                                 ".parquet")
            self.open[bucket] = (pq.ParquetWriter(path, self.schema, **self.options), path,
                                 [], [])
        writer, _path, mins, maxs = self.open[bucket]
        cells = to_order(hpix, self.job.read_order)
        edges = (np.flatnonzero(np.diff(cells)) + 1).tolist()
        for lo, hi in zip([0, *edges], [*edges, len(hpix)], strict=True):
            for start in range(lo, hi, SPILL_ROW_GROUP):
                stop = min(start + SPILL_ROW_GROUP, hi)
                writer.write_table(table.slice(start, stop - start),
                                   row_group_size=SPILL_ROW_GROUP)
                mins.append(int(hpix[start]))
                maxs.append(int(hpix[stop - 1]))

    def close(self) -> list[SpillFile]:
        """Close every file; return them (those of a failed job too: staging removes them)."""
        out = []
        for bucket, (writer, path, mins, maxs) in sorted(self.open.items()):
            writer.close()
            out.append(SpillFile(path, bucket, tuple(mins), tuple(maxs)))
        self.open = {}
        return out


def _write_spill(job: SpillJob, result: SpillResult, buffer: list[pa.Table],
                 writers: _BucketWriters) -> None:
    table = pa.concat_tables(buffer)
    if job.id_column:
        ids = table.select([job.id_column, SPATIAL_INDEX_COLUMN, "_file", "_row"])
        if not is_ascending(ids.column(0)):  # ids often come in order: no sort then
            ids = ids.sort_by(job.id_column)
        path = str(Path(job.work_dir) / f"ids_j{job.job_index:05d}_{len(result.id_spills):04d}"
                                        ".parquet")
        pq.write_table(ids, path, row_group_size=65_536, **_id_spill_options(ids.schema))
        result.id_spills.append(path)
        result.id_samples.append(ids.column(0).combine_chunks()[::ID_SAMPLE_STEP])
        del ids
        table = table.drop_columns(["_file", "_row"])
    if not table.num_rows:
        return
    order = stable_argsort(table.column(0).to_numpy())
    table = table.take(pa.array(order))
    hpix = table.column(0).to_numpy()
    buckets = bucket_of(hpix)
    edges = np.flatnonzero(np.diff(buckets)) + 1
    for lo, hi in zip([0, *edges.tolist()], [*edges.tolist(), len(hpix)], strict=True):
        writers.write(int(buckets[lo]), table.slice(lo, hi - lo), hpix[lo:hi])


def _id_spill_options(schema: pa.Schema) -> dict[str, Any]:
    """Spilled ids, sorted: delta-encoded ids and provenance (near-free when ids follow the
    input order), plain ``_healpix_29``, statistics on the id for bucketed reads."""
    delta = [f.name for f in schema if f.type in (pa.int32(), pa.int64())
             and f.name != SPATIAL_INDEX_COLUMN]
    return {"compression": "lz4", "use_dictionary": False,
            "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
            "write_statistics": [schema.names[0]]}


@dataclass(frozen=True, slots=True)
class PartitionOut:
    """One partition a pass-2 job writes: its index in the layout, pixel and file."""

    index: int
    order: int
    ipix: int
    out_path: str


@dataclass(frozen=True, slots=True)
class PartitionGroupJob:
    """Instructions for pass 2 on consecutive partitions (``_healpix_29`` order) whose
    rows lie in ``[lo, hi)``: read once, sorted once, cut into the partitions."""

    partitions: tuple[PartitionOut, ...]
    lo: int
    hi: int
    spills: tuple[tuple[str, tuple[int, ...]], ...]
    """Spill files and the row groups of each that overlap ``[lo, hi)``."""
    schema: pa.Schema
    margin_dir: str | None
    margin_arcsec: float
    ra: str | None
    dec: str | None
    part_orders: np.ndarray
    part_ipixs: np.ndarray
    lookup_order: int


def write_partition_group(job: PartitionGroupJob, pmap: PartitionMap | None = None
                          ) -> list[tuple[int, int, list[tuple[int, str, int]]]]:
    """Run pass 2 on a group of partitions; return (index, rows, margin shards) of each.

    ``pmap`` is the partitions' sky lookup (built from the job when not given: a cluster
    sends it to each worker once, a process pool's tasks build it)."""
    _release_memory_promptly()
    table = _read_range(job)
    hpix = table.column(0).to_numpy()
    order = stable_argsort(hpix)
    table = pa.Table.from_arrays(table.take(pa.array(order)).columns, schema=job.schema)
    hpix = hpix[order]
    del order
    out = []
    for part in job.partitions:
        lo, hi = pixel_range(part.order, part.ipix)
        start, stop = np.searchsorted(hpix, [lo, hi]).tolist()
        rows = table.slice(start, stop - start)
        if job.margin_dir and job.ra and job.dec and rows.num_rows and pmap is None:
            pmap = PartitionMap(job.part_orders, job.part_ipixs, job.lookup_order)
        out.append((part.index, rows.num_rows, _write_partition(job, part, rows, pmap)))
    return out


def _read_range(job: PartitionGroupJob) -> pa.Table:
    """Read the job's spill row groups; keep the rows in ``[lo, hi)``, in spill order."""
    pieces = []
    for path, groups in job.spills:
        part = pq.ParquetFile(path).read_row_groups(list(groups))
        hp_col = part.column(0)
        bounds = pc.min_max(hp_col)
        if bounds["min"].as_py() < job.lo or bounds["max"].as_py() >= job.hi:
            part = part.filter(pc.and_(pc.greater_equal(hp_col, job.lo),
                                       pc.less(hp_col, job.hi)))
        pieces.append(part)
    return pa.concat_tables(pieces) if pieces else job.schema.empty_table()


def _write_partition(job: PartitionGroupJob, part: PartitionOut, table: pa.Table,
                     pmap: PartitionMap | None) -> list[tuple[int, str, int]]:
    """Write one partition's rows (sorted) and the margin shards it sends; return those."""
    Path(part.out_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, part.out_path, **partition_write_options(job.schema, table))
    shards: list[tuple[int, str, int]] = []
    if pmap is None or not (job.margin_dir and job.ra and job.dec and table.num_rows):
        return shards
    rows, targets = margin_targets(
        part.index, table.column(job.ra).to_numpy(), table.column(job.dec).to_numpy(),
        pmap, job.margin_arcsec)
    for target in np.unique(targets).tolist():
        sel = rows[targets == target]
        shard = Path(job.margin_dir) / f"t{target:06d}_from{part.index:06d}.parquet"
        pq.write_table(table.take(pa.array(sel)), shard,
                       **{**final_write_options(job.schema), **_SPILL_OPTS})
        shards.append((int(target), str(shard), len(sel)))
    return shards


def merge_margin(shards: list[str], out_path: str, schema: pa.Schema) -> int:
    """Run pass 3: merge margin shards into one file sorted by ``_healpix_29``."""
    table = pa.concat_tables([pq.read_table(s) for s in shards]) if shards else schema.empty_table()
    table = pa.Table.from_arrays(table.sort_by(SPATIAL_INDEX_COLUMN).columns, schema=schema)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out_path, row_group_size=PARTITION_ROW_GROUP_ROWS,
                   **final_write_options(schema, table))
    return table.num_rows
