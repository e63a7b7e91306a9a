"""Ingest transactions: a private staging folder, then an atomic move and publish."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from engine.catalog import next_version_name, publish, staging_dir, table_dir


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        if pid < 0 or not _pid_alive(pid):
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


def commit(data_dir: Path, table: str, out_dir: Path, txn: Path) -> Path:
    """Move a complete version folder into the table and publish it; return its path."""
    _fsync_tree(out_dir)
    tdir = table_dir(data_dir, table)
    tdir.mkdir(parents=True, exist_ok=True)
    _, vname = next_version_name(data_dir, table)
    version_dir = tdir / vname
    os.rename(out_dir, version_dir)
    fd = os.open(tdir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    publish(data_dir, table, version_dir)
    shutil.rmtree(txn, ignore_errors=True)
    return version_dir


def abort(txn: Path) -> None:
    """Drop a transaction's staging folder."""
    shutil.rmtree(txn, ignore_errors=True)
