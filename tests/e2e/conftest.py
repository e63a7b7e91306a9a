"""One real TAP server (``qserv-access serve`` under uvicorn) on 127.0.0.1 per session."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tap_url(tmp_path_factory):
    pytest.importorskip("engine.ingest.api", reason="the ingest engine is not available")
    pytest.importorskip("engine.api", reason="engine.api (the query façade) is missing")
    from tests.support.tap_data import build_tap_data_dir

    root = tmp_path_factory.mktemp("e2e")
    data_dir = build_tap_data_dir(root)
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed at teardown
    # A default MAXREC below the table size, so that the service limit can be seen to cut.
    env = {**os.environ, "QSA_TAP_WORK_DIR": str(root / "work"), "QSA_TAP_DEFAULT_MAXREC": "1000",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qserv_access.cli_serve", "--data-dir", str(data_dir),
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}/tap"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(url + "/availability", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
