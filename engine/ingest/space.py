"""Disk space of an ingest: a check before it starts, and a one-line error when the disk fills."""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.errors import IngestError
from engine.ingest.readers import file_format

PARQUET_EQUIVALENT: dict[str, float] = {
    "parquet": 1.0, "fits": 0.25, "csv": 0.125, "votable": 0.125}
"""Bytes of Parquet one byte of input becomes, at least. FITS tables are uncompressed
binary, CSV and VOTable text take several bytes per value: counting them low keeps the
estimate a lower bound, so the check never refuses an ingest that would have fitted."""

STAGING_FACTOR = 2.0
"""Staging space per byte of Parquet-equivalent input of a partitioned ingest: the spill
files of pass 1 and the written partitions exist together until the publish. Measured on
300k random rows: 3.6x the input Parquet at the peak (8.6 MB -> 30.9 MB); an append
re-reading 16 MB of published partitions plus 3.2 MB of new input: 2.1x (41 MB)."""

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
               spill: bool) -> DiskRoom:
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
        STAGING_FACTOR if spill else 1.0)), usage.free, usage.total)
    if room.needed > room.free:
        raise IngestError(
            f"Not enough free space on {room.where()}: this ingest needs at least about "
            f"{_size_text(room.needed)} and {_size_text(room.free)} are free. Nothing was "
            "done; free some space there or use a data directory on a larger disk.")
    return room


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
        f"{_size_text(room.free)} free when it began (estimated at least "
        f"{_size_text(room.needed)}). Nothing was published and its staging files were "
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


def _size_text(nbytes: float) -> str:
    """Return a size for people.

    Examples
    --------
    >>> _size_text(17_200_000)
    '17.2 MB'
    >>> _size_text(3 * 10**12)
    '3.0 TB'
    """
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(nbytes) < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    raise AssertionError("unreachable")
