"""Start a throw-away PostgreSQL server from Debian's binaries (initdb + pg_ctl) for tests."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bindir() -> Path | None:
    """Return the newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if
                   Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    if user is None:
        return cmd
    return ["runuser", "-u", user, "--", *cmd]


@contextmanager
def running_postgres(workdir: Path, *, timeout_s: float = 60.0) -> Iterator[str]:
    """Run PostgreSQL in ``workdir`` and yield its SQLAlchemy URL; stop it afterwards.

    As root the server runs as the ``postgres`` user (PostgreSQL refuses root).
    Raises RuntimeError with the reason when it cannot be started.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin "
                           "(Debian package 'postgresql')")
    user = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise RuntimeError("running as root without runuser to drop to 'postgres'")
        user = "postgres"
        # pytest's tmp folders are private to root: the server gets its own under /tmp.
        workdir = Path(tempfile.mkdtemp(prefix="qsa-pg-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pgdata = workdir / "pgdata"
    sockdir = workdir / "sock"
    sockdir.mkdir(exist_ok=True)
    if user is not None:
        shutil.chown(workdir, user)
        shutil.chown(sockdir, user)
        os.chmod(workdir, 0o700)
    port = free_port()
    subprocess.run(_as_user([str(bindir / "initdb"), "-D", str(pgdata), "-U", "tap",
                             "--auth=trust", "-E", "UTF8"], user),
                   check=True, capture_output=True)
    log = workdir / "server.log"
    options = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log),
                             "-o", options, "start"], user),
                   check=True, capture_output=True)
    url = f"postgresql+psycopg://tap@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"PostgreSQL did not start; see {log}") from None
                time.sleep(0.1)
        yield url
    finally:
        subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "immediate",
                                 "stop"], user), check=False, capture_output=True)
        if user is not None:
            shutil.rmtree(workdir, ignore_errors=True)
