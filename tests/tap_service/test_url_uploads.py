"""UPLOAD=name,http(s)://…: fetched within limits, and never from a non-public address by default.

A real HTTP server on 127.0.0.1 serves the tables. Loopback is exactly what the default
refuses, so the fetching tests turn ``upload_allow_private_urls`` on.
"""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from astropy.io.votable import parse

from tests.tap_service.test_service import service

pytestmark = pytest.mark.asyncio
CSV = b"pid,ra,dec\n1,150.0,2.0\n2,10.0,-40.0\n"
BIG_BYTES = 50 * 1024 * 1024


class _Tables(BaseHTTPRequestHandler):
    sent: ClassVar[dict[str, int]] = {}

    def do_GET(self):
        if self.path == "/t.csv":
            self._answer(200, CSV)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1/elsewhere.csv")
            self.end_headers()
        elif self.path == "/big.csv":
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.end_headers()
            self.wfile.write(b"a\n")
            line = b"1\n" * 32768
            try:
                for _ in range(BIG_BYTES // len(line)):
                    self.wfile.write(line)
                    _Tables.sent["big"] = _Tables.sent.get("big", 0) + len(line)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self._answer(404, b"no such table")

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def table_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tables)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _message(response):
    infos = parse(io.BytesIO(response.content)).resources[0].infos
    return next(i.content for i in infos if i.name == "QUERY_STATUS")


async def _query(client, url, query="SELECT pid, ra FROM TAP_UPLOAD.t ORDER BY pid"):
    return await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query,
                                                "UPLOAD": f"t,{url}"})


async def test_a_url_upload_is_fetched_and_queried(tap_engine, tmp_path, table_server):
    async with service(tap_engine, tmp_path, upload_allow_private_urls=True) as client:
        r = await _query(client, table_server + "/t.csv")
    assert r.status_code == 200, r.text
    table = parse(io.BytesIO(r.content)).get_first_table().to_table()
    assert list(table["pid"]) == [1, 2]
    assert list(table["ra"]) == [150.0, 10.0]


async def test_non_public_addresses_are_refused_by_default(tap_engine, tmp_path, table_server):
    async with service(tap_engine, tmp_path) as client:
        for url in (table_server + "/t.csv", "http://localhost:9/t.csv", "http://[::1]/t.csv",
                    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/t.csv"):
            r = await _query(client, url)
            assert r.status_code == 400, url
            assert "non-public address" in _message(r)
            assert "public addresses only" in _message(r)


async def test_redirects_and_errors_are_400s_that_say_why(tap_engine, tmp_path, table_server):
    async with service(tap_engine, tmp_path, upload_allow_private_urls=True) as client:
        r = await _query(client, table_server + "/moved")
        assert r.status_code == 400
        assert "answered HTTP 302 (a redirect to http://127.0.0.1/elsewhere.csv" in _message(r)
        r = await _query(client, table_server + "/missing.csv")
        assert r.status_code == 400
        assert "answered HTTP 404" in _message(r)
        r = await _query(client, "http://no-such-host.invalid/t.csv")
        assert r.status_code == 400
        assert "cannot resolve the host 'no-such-host.invalid'" in _message(r)
        r = await _query(client, "ftp://example.org/t.csv")
        assert r.status_code == 400
        assert "unsupported URI" in _message(r)


async def test_an_oversized_url_upload_stops_at_the_limit(tap_engine, tmp_path, table_server):
    limit = 1_000_000
    async with service(tap_engine, tmp_path, upload_allow_private_urls=True,
                       upload_max_bytes=limit) as client:
        r = await _query(client, table_server + "/big.csv", "SELECT COUNT(*) FROM TAP_UPLOAD.t")
    assert r.status_code == 413
    assert f"limit of {limit} bytes" in _message(r)
    # The service hung up long before the 50 MiB (socket buffers let a few MiB through).
    assert _Tables.sent.get("big", 0) < BIG_BYTES // 2


async def test_url_uploads_switched_off_are_refused(tap_engine, tmp_path, table_server):
    async with service(tap_engine, tmp_path, upload_allow_urls=False,
                       upload_allow_private_urls=True) as client:
        r = await _query(client, table_server + "/t.csv")
    assert r.status_code == 400
    assert "only inline uploads" in _message(r)
