"""Async jobs over HTTP (in-process): quotas, byte limits, and what a failed job's result says."""

import io
import time
import xml.etree.ElementTree as ET
from contextlib import asynccontextmanager

import httpx
import pytest
from astropy.io.votable import parse

from tap_service.app import create_app
from tap_service.config import TapSettings

pytestmark = pytest.mark.asyncio
UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
BIG = "SELECT a.id, a.ra, a.dec, b.source_id, b.mjd FROM sky.objects AS a, sky.sources AS b"


@asynccontextmanager
async def service(engine, tmp_path, clients=("127.0.0.1",), **settings):
    app = create_app(TapSettings(data_dir=tmp_path, work_dir=tmp_path / "work", **settings),
                     engine=engine)
    async with app.router.lifespan_context(app):
        made = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 5000)),
                                  base_url="http://tap.test") for host in clients]
        try:
            yield made if len(made) > 1 else made[0]
        finally:
            for client in made:
                await client.aclose()


def error_message(response):
    vot = parse(io.BytesIO(response.content))
    return next(i.value for i in vot.resources[0].infos if i.name == "QUERY_STATUS"), \
        next(i.content for i in vot.resources[0].infos if i.name == "QUERY_STATUS")


async def submit(client, query, **params):
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": query, **params})
    assert r.status_code == 303, r.text
    return r.headers["location"].replace("http://tap.test", "")


async def wait_final(client, url, timeout_s=90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = await client.get(url, params={"WAIT": "5"})
        job = ET.fromstring(r.content)
        if job.findtext(f"{UWS}phase") in ("COMPLETED", "ERROR", "ABORTED"):
            return job
    raise AssertionError(f"job {url} did not finish")


async def test_result_of_a_failed_job_carries_its_error_message(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        url = await submit(client, "SELECT * FROM sky.objets", PHASE="RUN")
        job = await wait_final(client, url)
        summary = job.findtext(f"{UWS}errorSummary/{UWS}message")
        assert "sky.objects" in summary  # the suggestion of the close name
        r = await client.get(url + "/results/result")
        assert r.status_code == 404
        status, message = error_message(r)
        assert status == "ERROR"
        assert "failed and has no result" in message
        assert summary in message


async def test_too_many_unfinished_jobs_are_refused_with_429(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, max_active_jobs_per_owner=2) as client:
        urls = [await submit(client, "SELECT 1") for _ in range(2)]
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1"})
        assert r.status_code == 429
        status, message = error_message(r)
        assert status == "ERROR"
        assert "2 unfinished async jobs" in message
        assert "limit per owner is 2" in message
        doc = ET.fromstring((await client.get("/tap/async")).content)
        assert len(doc.findall(f"{UWS}jobref")) == 2
        await client.delete(urls[0])
        await submit(client, "SELECT 1")


async def test_each_anonymous_client_address_has_its_own_quota(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, clients=("10.0.0.1", "10.0.0.2"),
                       max_active_jobs_per_owner=1) as (first, second):
        await submit(first, "SELECT 1")
        assert (await first.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1"})
                ).status_code == 429
        await submit(second, "SELECT 1")


async def test_result_over_the_byte_limit_is_an_error_and_no_file_is_left(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, max_result_bytes=100_000) as client:
        url = await submit(client, BIG, PHASE="RUN", MAXREC="1000000")
        job = await wait_final(client, url)
        assert job.findtext(f"{UWS}phase") == "ERROR"
        assert "100000 bytes" in job.findtext(f"{UWS}errorSummary/{UWS}message")
        runner = client._transport.app.state.tap.runner
        deadline = time.monotonic() + 30
        while runner.running_count() and time.monotonic() < deadline:
            await client.get(url + "/phase")
        folder = tmp_path / "work" / "jobs" / url.rsplit("/", 1)[1]
        assert [p for p in folder.rglob("*") if p.is_file()] == []


async def test_capabilities_state_the_job_limits(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, max_active_jobs_per_owner=7,
                       max_result_bytes=123456, max_result_bytes_per_owner=9876543) as client:
        cap = ET.fromstring((await client.get("/tap/capabilities")).content)
    tap = next(c for c in cap if c.get("standardID") == "ivo://ivoa.net/std/TAP")
    assert tap[0].tag == "description"
    assert "7 unfinished jobs" in tap[0].text
    assert "9876543 bytes of stored results" in tap[0].text
    assert "123456 bytes" in tap[0].text
