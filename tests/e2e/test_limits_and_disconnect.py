"""A real server with small job limits: hung-up sync clients stop their query; pyvo sees quotas."""

import socket
import urllib.parse
from pathlib import Path

import pytest
import pyvo
from pyvo.dal import DALQueryError, DALServiceError

from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server, server_pid
from tests.support.waiting import wait_until

SLOW = ("SELECT COUNT(*) AS n FROM sky.objects AS a JOIN sky.objects AS b ON a.id <> b.id "
        "JOIN sky.sources AS s ON s.source_id > 0 "
        "WHERE SQRT(ABS(a.ra * b.dec + s.dec * b.ra)) >= 0.5 OR SIN(a.ra) * COS(b.dec) > s.mjd")
"""Tens of billions of joined rows: many minutes of work on every core when nothing stops it."""
BIG = "SELECT a.id, a.ra, a.dec, b.source_id, b.mjd FROM sky.objects AS a, sky.sources AS b"
STOPPED = "sync query stopped"


@pytest.fixture(scope="module")
def server(tmp_path_factory, tap_data_template):
    from tests.support.tap_data import copy_tap_data_dir

    root = tmp_path_factory.mktemp("limits")
    data_dir = copy_tap_data_dir(tap_data_template, root)
    env = {"QSA_TAP_MAX_ACTIVE_JOBS_PER_OWNER": "2", "QSA_TAP_MAX_RESULT_BYTES": "100000",
           # Well above the time the test allows the query, so only the disconnect can stop
           # it; low enough that a regression does not hold the machine for long.
           "QSA_TAP_SYNC_TIMEOUT": "180"}
    port = free_port()
    with running_tap_server(data_dir, root, port, env=env) as url:
        yield url, root / "server.log", port


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks


def test_sync_query_stops_when_its_client_hangs_up(server):
    url, log_path, port = server
    pid = server_pid(port)
    before_log = log_path.read_text().count(STOPPED)
    target = urllib.parse.urlsplit(url)
    path = f"{target.path}/sync?" + urllib.parse.urlencode({"LANG": "ADQL", "QUERY": SLOW})
    cpu_start = cpu_seconds(pid)
    client = socket.create_connection((target.hostname, target.port), timeout=10)
    try:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: {target.netloc}\r\n\r\n".encode())
        # The query is running once the otherwise idle server has burnt a CPU-second on it.
        wait_until(lambda: cpu_seconds(pid) - cpu_start > 1.0, 60, "the query to start working")
    finally:
        client.close()
    wait_until(lambda: log_path.read_text().count(STOPPED) > before_log, 30,
         "the server to report the query stopped")
    stopped_after = float(log_path.read_text().rsplit(STOPPED, 1)[1].split()[0])
    assert stopped_after < 10, f"the query ran on {stopped_after} s after the client left"
    # The service still answers.
    assert pyvo.dal.TAPService(url).run_sync("SELECT COUNT(*) AS n FROM sky.objects")["n"][0] \
        == 2000


def test_pyvo_third_unfinished_job_is_refused(server):
    tap = pyvo.dal.TAPService(server[0])
    jobs = [tap.submit_job("SELECT 1 AS x") for _ in range(2)]
    try:
        with pytest.raises(DALServiceError, match="429"):
            tap.submit_job("SELECT 1 AS x")
    finally:
        for job in jobs:
            job.delete()
    tap.submit_job("SELECT 1 AS x").delete()


def test_pyvo_async_result_over_the_byte_limit_raises_with_the_limit(server):
    tap = pyvo.dal.TAPService(server[0])
    with pytest.raises(DALQueryError, match="100000 bytes"):
        tap.run_async(BIG, maxrec=1_000_000)
