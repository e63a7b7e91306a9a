"""Large sync results stream through the ASGI app, and a hung-up client ends the stream."""

import asyncio
import logging
import urllib.parse

import httpx
import pytest

from tap_service.app import create_app
from tap_service.config import TapSettings

pytestmark = pytest.mark.asyncio
BIG = "SELECT a.id, a.ra, a.dec, b.source_id, b.mjd FROM sky.objects AS a, sky.sources AS b"


async def test_result_over_a_megabyte_streams_to_the_end(tap_engine, tmp_path):
    app = create_app(TapSettings(data_dir=tmp_path, work_dir=tmp_path / "work"),
                     engine=tap_engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tap.test") as client:
            r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": BIG,
                                                      "MAXREC": "60000",
                                                      "RESPONSEFORMAT": "csv"})
    assert r.status_code == 200
    assert len(r.content) > 1 << 20  # past the prefetch: the streamed path
    assert r.text.count("\n") == 60_001  # header and every row


async def test_client_hanging_up_mid_stream_ends_the_response(tap_engine, tmp_path, caplog):
    app = create_app(TapSettings(data_dir=tmp_path, work_dir=tmp_path / "work"),
                     engine=tap_engine)
    query = urllib.parse.urlencode({"LANG": "ADQL", "QUERY": BIG, "MAXREC": "10000000",
                                    "RESPONSEFORMAT": "csv"})
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/tap/sync",
        "raw_path": b"/tap/sync", "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"tap.test")], "client": ("127.0.0.1", 5000),
        "server": ("tap.test", 80), "state": {},
    }
    hung_up = asyncio.Event()
    request_sent = False
    sent = []

    async def receive():
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and sum(
                len(m.get("body", b"")) for m in sent) > (2 << 20):
            hung_up.set()  # the client read 2 MB of many hundreds and went away

    caplog.set_level(logging.WARNING, logger="tap_service.sync")
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app(scope, receive, send), timeout=120)
    assert sent[0]["status"] == 200
    assert not any(m.get("more_body") is False for m in sent[1:])  # never reached its end
    assert "sync result stream stopped before its end" in caplog.text
