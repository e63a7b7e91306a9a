"""Ingest transactions: one writer per table, a private staging folder, an atomic publish.

A writer holds the table's lock (``DIR/locks/<schema>.<table>.lock``, an ``flock``) from
reading the published version it appends to until it has published its own, so two
ingests into one table run one after the other and neither loses the other's rows. The
lock files are never deleted: removing one while it is held would let a third writer in.
The kernel drops the lock when its holder dies, killed or not.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.catalog import (
    CURRENT_NAME,
    next_version_name,
    publish,
    read_table,
    staging_dir,
    table_dir,
)
from engine.errors import IngestError
from engine.pids import pid_alive

LOCKS_NAME = "locks"
"""Folder of the data directory holding one lock file per table ever written."""


@contextlib.contextmanager
def table_lock(data_dir: Path, table: str,
               on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the table's writer lock for the ``with`` block, waiting while another holds it.

    Parameters
    ----------
    data_dir
        The data directory.
    table
        ``schema.table`` in lower case.
    on_wait
        Called once with a one-line message (naming the holder's pid) when the lock is
        held by another writer, before waiting for it.
    """
    root = Path(data_dir) / LOCKS_NAME
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / f"{table}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f"waiting for another ingest into {table} ({_holder(fd)}) to finish…")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """Describe the process holding a lock, from the pid it wrote into the file."""
    try:
        pid = int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return "pid unknown"
    return f"pid {pid}" if pid_alive(pid) else "pid unknown"


def clean_stale_staging(data_dir: Path) -> None:
    """Remove staging folders left by ingests whose process is gone (killed or crashed)."""
    root = staging_dir(data_dir)
    if not root.is_dir():
        return
    for sub in root.iterdir():
        pid_file = sub / "PID"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            pid = -1
        if pid < 0 or not pid_alive(pid):
            shutil.rmtree(sub, ignore_errors=True)


def begin(data_dir: Path, table: str) -> Path:
    """Create and return a new staging folder for an ingest into ``table``."""
    clean_stale_staging(data_dir)
    txn = staging_dir(data_dir) / f"{table}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    txn.mkdir(parents=True)
    (txn / "PID").write_text(str(os.getpid()))
    return txn


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def published_version(data_dir: Path, table: str) -> int | None:
    """Return the version number the table publishes now (None: no such table)."""
    found = read_table(data_dir, table)
    return found.manifest.version if found is not None else None


def commit(data_dir: Path, table: str, out_dir: Path, txn: Path, *,
           base_version: int | None) -> Path:
    """Move a complete version folder into the table and publish it; return its path.

    ``base_version`` is the version the new one was built from (None: the table did not
    exist). If another writer published since (one that did not take the table's lock),
    nothing is published and :class:`IngestError` says so: publishing would drop its rows.
    """
    _fsync_tree(out_dir)
    now = published_version(data_dir, table)
    if now != base_version:
        raise IngestError(
            f"Table '{table}' was changed by another writer while this ingest ran (it is "
            f"now version {now}, this ingest started from "
            f"{'no table' if base_version is None else f'version {base_version}'}); nothing "
            "was published. Run the ingest again: it will add to the new version.")
    tdir = table_dir(data_dir, table)
    tdir.mkdir(parents=True, exist_ok=True)
    _, vname = next_version_name(data_dir, table)
    version_dir = tdir / vname
    os.rename(out_dir, version_dir)
    try:
        _fsync_dir(tdir)
        publish(data_dir, table, version_dir)
    except BaseException:
        # Not published (CURRENT is replaced last): give the space back, leave no orphan.
        if _current_name(tdir) != vname:
            shutil.rmtree(version_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                (tdir / (CURRENT_NAME + ".tmp")).unlink()
        raise
    shutil.rmtree(txn, ignore_errors=True)
    return version_dir


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _current_name(tdir: Path) -> str | None:
    try:
        return (tdir / CURRENT_NAME).read_text().strip()
    except OSError:
        return None


def abort(txn: Path) -> None:
    """Drop a transaction's staging folder."""
    shutil.rmtree(txn, ignore_errors=True)

