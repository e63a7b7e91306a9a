"""Sync queries pass the admission gate in order on a real server (uvicorn on 127.0.0.1).

One slot (QSA_TAP_SYNC_SLOTS=1): a slow query holds it while short ones queue behind it;
they run after it, first come first served, and a client that hangs up while queued
leaves the queue (its slow query never runs).
"""

import http.client
import socket
import threading
import time
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server


def slow(limit_id: int) -> str:
    """A three-way join over the 2,000 small-sky objects (ids 1000, 1007, ...): its CPU grows
    with the rows of ``a`` below ``limit_id``, 2,000 x 2,000 combinations each."""
    return ("SELECT COUNT(*) AS n FROM sky.objects AS a, sky.objects AS b, sky.objects AS c "
            f"WHERE a.id < {limit_id} AND a.ra + b.ra + c.ra > 540")


class Sizes:
    """Limits for :func:`slow` that take about the given seconds on this machine now, so
    that the order the tests look at does not depend on how fast or loaded it is."""

    def __init__(self, url: str) -> None:
        rows = 43  # slow(1301): ids 1000 ... 1294
        started = time.monotonic()
        _sync(url, slow(1000 + 7 * rows), {}, "calibrate")
        self.rows_per_s = rows / (time.monotonic() - started)

    def limit(self, seconds: float, offset: int = 0) -> int:
        """A limit for a query of about ``seconds``; ``offset`` rows more keep texts apart."""
        rows = max(1, round(self.rows_per_s * seconds)) + offset
        return 1000 + 7 * min(rows, 1999) + 1


def short(i: int) -> str:
    return f"SELECT TOP 1 id FROM sky.objects WHERE id >= {1000 + i} ORDER BY id"


@pytest.fixture(scope="module")
def server(tap_data_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("gate")
    env = {"QSA_TAP_SYNC_SLOTS": "1", "QSA_TAP_SYNC_QUEUE_PATIENCE": "60"}
    with running_tap_server(tap_data_dir, work, free_port(), env=env) as url:
        yield url, work / "server.log", Sizes(url)


def _sync(url: str, query: str, ended: dict[str, float], name: str) -> None:
    r = httpx.get(url + "/sync", params={"LANG": "ADQL", "QUERY": query}, timeout=60)
    r.raise_for_status()
    ended[name] = time.monotonic()


def _in_thread(*args: object) -> threading.Thread:
    t = threading.Thread(target=_sync, args=args)
    t.start()
    return t


def _send(url: str, query: str) -> http.client.HTTPConnection:
    """Send a sync request on a connection opened beforehand (the send is then quick)."""
    parts = urlsplit(url)
    con = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    con.connect()
    con.request("GET", parts.path + "/sync?" + urlencode({"LANG": "ADQL", "QUERY": query}))
    return con


def test_queries_wait_behind_a_running_one_and_run_in_arrival_order(server):
    url, _, sizes = server
    ended: dict[str, float] = {}
    first = _in_thread(url, slow(sizes.limit(2.0)), ended, "slow")
    time.sleep(0.3)
    waiting = []
    for i in range(4):  # each about 0.3 s, so that their ends are well apart
        waiting.append((f"q{i}", _send(url, slow(sizes.limit(0.3, offset=i)))))
        time.sleep(0.15)

    def read(name: str, con: http.client.HTTPConnection) -> None:
        response = con.getresponse()
        assert response.status == 200, response.read()
        response.read()
        ended[name] = time.monotonic()
        con.close()

    readers = [threading.Thread(target=read, args=item) for item in waiting]
    for t in readers:
        t.start()
    for t in [first, *readers]:
        t.join()
    order = sorted(ended, key=ended.__getitem__)
    # Without the gate they would share the cores and end before the slow one.
    assert order == ["slow", "q0", "q1", "q2", "q3"]


def test_a_client_that_hangs_up_while_queued_leaves_the_queue(server):
    url, log_path, sizes = server
    ended: dict[str, float] = {}
    started = time.monotonic()
    _sync(url, slow(sizes.limit(2.0, offset=2)), ended, "alone")
    alone_s = ended["alone"] - started

    first = _in_thread(url, slow(sizes.limit(2.0)), ended, "slow")
    time.sleep(0.3)
    parts = urlsplit(url)
    target = parts.path + "/sync?" + urlencode({"LANG": "ADQL",
                                                "QUERY": slow(sizes.limit(2.0, offset=1))})
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        time.sleep(0.3)  # queued behind "slow"; then the client hangs up
    time.sleep(0.1)
    last = _in_thread(url, short(0), ended, "last")
    first.join()
    last.join()
    # Had the abandoned slow query run, "last" would end about alone_s after "slow".
    assert ended["last"] - ended["slow"] < 0.5 * alone_s
    assert "sync query left the queue: its client disconnected" in log_path.read_text()
