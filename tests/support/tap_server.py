"""A real TAP server (`qserv-access serve`, uvicorn) on 127.0.0.1 for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_tap_server(data_dir: Path, work_dir: Path, port: int, *,
                       env: Mapping[str, str] | None = None,
                       start_timeout_s: float = 60.0,
                       args: Sequence[str] = (), root: Path = ROOT) -> Iterator[str]:
    """Start the service in a subprocess, wait until it answers, yield its TAP URL, stop it.

    ``args`` are more options of ``qserv-access serve`` (``--workers 2``); ``root`` is the
    source tree it runs from (another checkout, to compare code in turns).

    The server log goes to ``work_dir/server.log``; its tail is in the error raised when
    the server exits or does not answer within ``start_timeout_s``.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "server.log"
    full_env = {**os.environ, "QSA_TAP_WORK_DIR": str(work_dir / "work"),
                "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                **(env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qserv_access.cli_serve", "--data-dir", str(data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *args],
            stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=root)
        url = f"http://127.0.0.1:{port}/tap"
        try:
            _wait_until_up(proc, url, log_path, start_timeout_s)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def server_pid(port: int) -> int:
    """The process id of the ``qserv_access.cli_serve`` listening on ``port``, from /proc."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"qserv_access.cli_serve" in args and str(port).encode() in args:
            return int(cmdline.parent.name)
    raise AssertionError(f"no server process on port {port}")


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log_path: Path,
                   timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the TAP server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/availability", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the TAP server did not answer within {timeout_s:g} s: "
                               f"{log_path.read_text()[-2000:]}")
        time.sleep(0.1)
