"""Disk space of an ingest: a check before it starts, and a one-line error when the disk fills."""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.catalog import PARTITION_ROW_GROUP_ROWS
from engine.errors import IngestError
from engine.ingest.readers import file_format
from engine.ingest.workers import partition_write_options
from engine.sky.healpix import SPATIAL_INDEX_COLUMN, spatial_index

PARQUET_EQUIVALENT: dict[str, float] = {
    "parquet": 1.0, "fits": 0.25, "csv": 0.125, "votable": 0.125}
"""Bytes of Parquet one byte of input becomes, at least. FITS tables are uncompressed
binary, CSV and VOTable text take several bytes per value: counting them low keeps the
estimate a lower bound, so the check never refuses an ingest that would have fitted."""

STAGING_FACTOR = 1.0
"""Staging space per byte of Parquet-equivalent input of a partitioned ingest, at least.
Pass 1 spills the rows once, in the published files' compact encodings and cut by sky
bucket; pass 2 deletes each bucket's spills once its partitions are written, so the peak
is about the published size plus the id spills. Measured: 300k random rows, 8.6 MB of
Parquet input, 13.0 MB at the peak (1.5x, a small table's per-file overheads); 20M
synthetic rows, see ``bench/results/ingest.md`` (below 1x: our files are smaller than
pyarrow's defaults). 1.0 keeps it an estimate that rarely refuses what would fit."""

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
"""A write failed for lack of space: a full disk, or the user's quota reached."""


@dataclass(frozen=True, slots=True)
class DiskRoom:
    """The disk an ingest stages on: what it needs at least, and what it had at the start."""

    path: Path
    mount: str
    needed: int
    free: int
    total: int

    def where(self) -> str:
        """Name the disk: the data directory, its device and mount point."""
        return f"the disk holding {self.path} ({self.mount})"


def check_room(data_dir: Path, inputs: list[str], published: list[str], *,
               spill: bool, stream_bytes: int = 0) -> DiskRoom:
    """Return the disk's room for an ingest, or refuse it when it cannot fit.

    Parameters
    ----------
    data_dir
        The data directory (staging and tables share its disk).
    inputs
        The new input files.
    published
        Files of the published version an append rewrites.
    spill
        Whether the ingest spills (partitioned tables) or copies once (regular tables).
    stream_bytes
        The estimate for a stream's rows (:func:`estimate_stream_bytes`), added as is.

    Returns
    -------
    DiskRoom
        The estimate and the free space now.

    Raises
    ------
    IngestError
        The free space is below the estimate; nothing was written.
    """
    existing = Path(data_dir).absolute()
    while not existing.exists():
        existing = existing.parent
    usage = shutil.disk_usage(existing)
    parquet = sum(_size(p) * PARQUET_EQUIVALENT.get(_format(p), 0.0) for p in inputs)
    parquet += sum(_size(p) for p in published)
    room = DiskRoom(Path(data_dir), _mount_of(existing), int(parquet * (
        STAGING_FACTOR if spill else 1.0)) + stream_bytes, usage.free, usage.total)
    if room.needed > room.free:
        raise IngestError(
            f"Not enough free space on {room.where()}: this ingest needs at least about "
            f"{size_text(room.needed)} and {size_text(room.free)} are free. Nothing was "
            "done; free some space there or use a data directory on a larger disk.")
    return room


STREAM_PEAK_FACTOR = 1.0
"""Staging space per published byte of a stream's rows. Pass 2 deletes spills as it
writes the partitions, so the peak is about the published size plus the id spills
(measured: 1.1-1.2x); the sample (:func:`estimate_stream_bytes`) spreads over the whole
sky and compresses worse than a partition does, so 1.0 keeps the estimate a lower bound."""


def estimate_stream_bytes(sample: pa.RecordBatch, nrows: int, ra: str | None,
                          dec: str | None) -> int:
    """Estimate the disk a stream of ``nrows`` rows needs from a sample batch of it.

    The sample is written as a published partition is (sorted by ``_healpix_29``, with
    :func:`~engine.ingest.workers.partition_write_options`: the same encodings and page
    index); its bytes per row times ``nrows`` times :data:`STREAM_PEAK_FACTOR`.
    0 for an empty sample.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sample = pa.record_batch({"ra": rng.uniform(0, 360, 10_000),
    ...                           "dec": rng.uniform(-90, 90, 10_000)})
    >>> 16 * 10**6 < estimate_stream_bytes(sample, 10**6, "ra", "dec") < 25 * 10**6
    True
    """
    if not sample.num_rows:
        return 0
    table = pa.Table.from_batches([sample.slice(0, PARTITION_ROW_GROUP_ROWS)])
    if ra and dec and ra in table.column_names and dec in table.column_names:
        coords = [np.nan_to_num(np.asarray(table.column(c).to_numpy(zero_copy_only=False),
                                           dtype=np.float64)) for c in (ra, dec)]
        hpix = spatial_index(np.clip(coords[0], 0, 360), np.clip(coords[1], -90, 90))
        order = np.argsort(hpix, kind="stable")
        table = table.take(pa.array(order)).add_column(
            0, SPATIAL_INDEX_COLUMN, pa.array(hpix[order], pa.int64()))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **partition_write_options(table.schema, table))
    per_row = sink.getvalue().size / table.num_rows
    pa.default_memory_pool().release_unused()
    return int(per_row * nrows * STREAM_PEAK_FACTOR)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc``, or an exception it was raised from, is a full disk or quota."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (
                current.errno in DISK_FULL_ERRNOS or "No space left on device" in str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def disk_full_error(room: DiskRoom) -> IngestError:
    """Return the one-line error of an ingest stopped by a full disk (staging removed)."""
    return IngestError(
        f"No space left on {room.where()}: the ingest needed more than the "
        f"{size_text(room.free)} free when it began (estimated at least "
        f"{size_text(room.needed)}). Nothing was published and its staging files were "
        "removed; free some space there or use a data directory on a larger disk.")


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # a missing file is reported by the probe, with its name


def _format(path: str) -> str:
    try:
        return file_format(path)
    except IngestError:
        return ""


def _mount_of(path: Path) -> str:
    """Return ``DEVICE mounted at MOUNT`` for the filesystem holding ``path``."""
    mount = path.resolve()
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    device = ""
    try:
        with open("/proc/self/mounts") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 1 and fields[1] == str(mount):
                    device = fields[0]  # the last entry wins, as the kernel stacks them
    except OSError:
        pass
    return f"{device} mounted at {mount}" if device else f"mounted at {mount}"


def size_text(nbytes: float) -> str:
    """Return a size for people.

    Examples
    --------
    >>> size_text(17_200_000)
    '17.2 MB'
    >>> size_text(3 * 10**12)
    '3.0 TB'
    """
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(nbytes) < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")
