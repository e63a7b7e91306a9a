"""The TAP service in-process (httpx over ASGI) on the real engine and the small sky."""

import asyncio
import io
import json
import time
import xml.etree.ElementTree as ET
from contextlib import asynccontextmanager

import httpx
import pyarrow.parquet as pq
import pytest
import pytest_asyncio
from astropy.io.votable import parse

from tap_service.app import create_app
from tap_service.config import TapSettings

pytestmark = pytest.mark.asyncio
UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
CONE = ("SELECT id, ra, dec, g_mag FROM sky.objects WHERE "
        "CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.0, 2.0, 0.2)) = 1")


@asynccontextmanager
async def service(engine, tmp_path, **settings):
    app = create_app(TapSettings(data_dir=tmp_path, work_dir=tmp_path / "work", **settings),
                     engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tap.test") as client:
            yield client


@pytest_asyncio.fixture
async def client(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as c:
        yield c


def votable(response):
    return parse(io.BytesIO(response.content))


def status_infos(vot):
    return [(i.name, i.value) for i in vot.resources[0].infos if i.name == "QUERY_STATUS"]


async def test_sync_cone_returns_binary2_votable_with_field_metadata(client):
    r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": CONE})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-votable+xml")
    assert b"<BINARY2>" in r.content
    vot = votable(r)
    assert status_infos(vot) == [("QUERY_STATUS", "OK")]
    table = vot.get_first_table()
    fields = {f.name: f for f in table.fields}
    assert fields["ra"].unit == "deg"
    assert fields["ra"].datatype == "double"
    assert "Right ascension" in (fields["ra"].description or "")
    assert len(table.to_table()) > 100  # the dense cluster around (150, 2)


async def test_parameter_names_are_case_insensitive_and_post_forms_work(client):
    r = await client.post("/tap/sync", data={"lang": "ADQL", "query": "SELECT TOP 3 id FROM "
                                             "sky.objects", "request": "doQuery",
                                             "responseformat": "csv"})
    assert r.status_code == 200
    assert r.text.splitlines()[0].strip('"') == "id"
    assert len(r.text.splitlines()) == 4


async def test_multipart_post_is_accepted(client):
    r = await client.post("/tap/sync", files={"QUERY": (None, "SELECT COUNT(*) AS n FROM "
                                                              "sky.objects"),
                                              "LANG": (None, "ADQL")})
    assert r.status_code == 200
    assert int(votable(r).get_first_table().to_table()["n"][0]) == 2000


async def test_maxrec_cuts_the_result_and_says_overflow(client):
    r = await client.get("/tap/sync", params={"LANG": "ADQL", "MAXREC": "5",
                                              "QUERY": "SELECT id FROM sky.objects"})
    vot = votable(r)
    assert len(vot.get_first_table().to_table()) == 5
    assert status_infos(vot) == [("QUERY_STATUS", "OK"), ("QUERY_STATUS", "OVERFLOW")]


@pytest.mark.parametrize(("fmt", "mime"), [
    ("votable/td", "application/x-votable+xml;serialization=TABLEDATA"),
    ("csv", "text/csv"), ("tsv", "text/tab-separated-values"), ("json", "application/json"),
    ("parquet", "application/vnd.apache.parquet"), ("fits", "application/fits"),
])
async def test_every_output_format(client, fmt, mime):
    r = await client.get("/tap/sync", params={"LANG": "ADQL", "RESPONSEFORMAT": fmt,
                                              "QUERY": "SELECT TOP 7 id, ra FROM sky.objects"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(mime)
    if fmt == "json":
        assert len(json.loads(r.content)["data"]) == 7
    if fmt == "parquet":
        assert pq.read_table(io.BytesIO(r.content)).num_rows == 7


async def test_syntax_error_is_a_400_votable_with_position(client):
    r = await client.get("/tap/sync", params={"LANG": "ADQL",
                                              "QUERY": "SELECT id\nFROM sky.objects WHERE"})
    assert r.status_code == 400
    vot = votable(r)
    assert status_infos(vot) == [("QUERY_STATUS", "ERROR")]
    assert "line" in vot.resources[0].infos[0].content


async def test_unknown_table_suggests_the_close_name(client):
    r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT * FROM sky.objets"})
    assert r.status_code == 400
    assert "sky.objects" in votable(r).resources[0].infos[0].content


@pytest.mark.parametrize(("params", "message"), [
    ({"QUERY": "SELECT 1"}, "LANG"), ({"LANG": "ADQL"}, "QUERY"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1", "MAXREC": "x"}, "MAXREC"),
    ({"LANG": "SQL", "QUERY": "SELECT 1"}, "LANG"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1", "RESPONSEFORMAT": "xls"}, "RESPONSEFORMAT"),
])
async def test_invalid_requests_are_400_votable_errors(client, params, message):
    r = await client.get("/tap/sync", params=params)
    assert r.status_code == 400
    assert message in votable(r).resources[0].infos[0].content


async def test_tap_schema_is_queryable(client):
    r = await client.get("/tap/sync", params={
        "LANG": "ADQL",
        "QUERY": "SELECT column_name, unit, datatype FROM TAP_SCHEMA.columns "
                 "WHERE table_name = 'sky.objects'"})
    rows = votable(r).get_first_table().to_table()
    cols = dict(zip(rows["column_name"], rows["unit"], strict=True))
    assert cols["ra"] == "deg"
    r = await client.get("/tap/sync", params={
        "LANG": "ADQL", "QUERY": "SELECT from_table, target_table FROM TAP_SCHEMA.keys "
                                 "WHERE from_table = 'sky.sources'"})
    keys = votable(r).get_first_table().to_table()
    assert list(keys["target_table"]) == ["sky.objects"]


async def test_csv_upload_joins_with_the_catalog(client):
    csv = b"pid,ra,dec\n1,150.0,2.0\n2,10.0,-40.0\n"
    query = ("SELECT u.pid, o.id FROM TAP_UPLOAD.mine AS u JOIN sky.objects AS o ON "
             "CONTAINS(POINT('ICRS', o.ra, o.dec), CIRCLE('ICRS', u.ra, u.dec, 0.05)) = 1")
    r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query,
                                             "UPLOAD": "mine,param:t"},
                          files={"t": ("t.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    table = votable(r).get_first_table().to_table()
    assert set(table["pid"]) <= {1, 2}
    assert len(table) > 0


async def test_upload_limits_and_url_uploads_are_refused(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, upload_max_rows=1,
                       upload_allow_urls=False) as client:
        r = await client.post("/tap/sync", data={"LANG": "ADQL", "UPLOAD": "t,param:f",
                                                 "QUERY": "SELECT * FROM TAP_UPLOAD.t"},
                              files={"f": ("t.csv", b"a\n1\n2\n", "text/csv")})
        assert r.status_code == 400
        assert "2 rows; the limit is 1" in r.text
        r = await client.post("/tap/sync", data={"LANG": "ADQL",
                                                 "UPLOAD": "t,http://example.org/t.xml",
                                                 "QUERY": "SELECT * FROM TAP_UPLOAD.t"})
        assert r.status_code == 400
        assert "only inline uploads" in r.text


async def _wait_phase(client, url, phases=("COMPLETED", "ERROR", "ABORTED"), timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = await client.get(url, params={"WAIT": "5"})
        phase = ET.fromstring(r.content).find(f"{UWS}phase").text
        if phase in phases:
            return ET.fromstring(r.content)
    raise AssertionError(f"job {url} still not in {phases}")


async def test_async_job_lifecycle(client):
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE, "PHASE": "RUN",
                                              "RUNID": "mine"})
    assert r.status_code == 303
    url = r.headers["location"].replace("http://tap.test", "")
    job = await _wait_phase(client, url)
    assert job.find(f"{UWS}phase").text == "COMPLETED"
    assert job.find(f"{UWS}runId").text == "mine"
    result = job.find(f"{UWS}results/{UWS}result")
    assert result.get("id") == "result"
    r = await client.get(url + "/results/result")
    assert len(votable(r).get_first_table().to_table()) > 100
    assert (await client.get(url + "/phase")).text == "COMPLETED"
    assert (await client.get(url + "/executionduration")).text == "3600"
    assert (await client.get(url + "/quote")).status_code == 200
    assert (await client.get(url + "/owner")).status_code == 200
    assert "2" in (await client.get(url + "/destruction")).text
    params = ET.fromstring((await client.get(url + "/parameters")).content)
    assert {p.get("id") for p in params} >= {"lang", "query"}
    r = await client.delete(url)
    assert r.status_code == 303
    assert (await client.get(url)).status_code == 404


async def test_async_pending_job_parameters_abort_and_action_delete(client):
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1"})
    url = r.headers["location"].replace("http://tap.test", "")
    assert (await client.get(url + "/phase")).text == "PENDING"
    r = await client.post(url + "/parameters", data={"QUERY": "SELECT TOP 1 id FROM sky.objects"})
    assert r.status_code == 303
    r = await client.post(url + "/executionduration", data={"EXECUTIONDURATION": "30"})
    assert (await client.get(url + "/executionduration")).text == "30"
    r = await client.post(url + "/destruction", data={"DESTRUCTION": "2099-01-01T00:00:00Z"})
    assert r.status_code == 303
    await client.post(url + "/phase", data={"PHASE": "ABORT"})
    assert (await client.get(url + "/phase")).text == "ABORTED"
    r = await client.post(url + "/phase", data={"PHASE": "RUN"})
    assert r.status_code == 409
    r = await client.post(url, data={"ACTION": "DELETE"})
    assert r.status_code == 303
    assert (await client.get(url)).status_code == 404


async def test_async_error_has_summary_and_error_document(client):
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT * FROM nowhere.t",
                                              "PHASE": "RUN"})
    url = r.headers["location"].replace("http://tap.test", "")
    job = await _wait_phase(client, url)
    assert job.find(f"{UWS}phase").text == "ERROR"
    assert job.find(f"{UWS}errorSummary").get("type") == "fatal"
    r = await client.get(url + "/error")
    assert status_infos(votable(r)) == [("QUERY_STATUS", "ERROR")]


async def test_job_list_filters(client):
    urls = []
    for query in ("SELECT TOP 1 id FROM sky.objects", "SELECT TOP 2 id FROM sky.objects"):
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": query})
        urls.append(r.headers["location"].replace("http://tap.test", ""))
    await client.post(urls[0] + "/phase", data={"PHASE": "RUN"})
    await _wait_phase(client, urls[0])
    doc = ET.fromstring((await client.get("/tap/async", params={"PHASE": "PENDING"})).content)
    ids = [ref.get("id") for ref in doc.findall(f"{UWS}jobref")]
    assert urls[1].rsplit("/", 1)[1] in ids
    assert urls[0].rsplit("/", 1)[1] not in ids
    doc = ET.fromstring((await client.get("/tap/async", params={"LAST": "1"})).content)
    assert [ref.get("id") for ref in doc.findall(f"{UWS}jobref")] == [urls[1].rsplit("/", 1)[1]]
    doc = ET.fromstring((await client.get("/tap/async",
                                          params={"AFTER": "2999-01-01T00:00:00Z"})).content)
    assert doc.findall(f"{UWS}jobref") == []


async def test_wait_with_phase_returns_at_once_when_phase_differs(client):
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1"})
    url = r.headers["location"].replace("http://tap.test", "")
    start = time.monotonic()
    await client.get(url, params={"WAIT": "10", "PHASE": "EXECUTING"})
    assert time.monotonic() - start < 5


async def test_tokens_restrict_jobs_to_their_owner(tap_engine, tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-a alice\ntok-b bob\n")
    async with service(tap_engine, tmp_path, tokens_file=tokens) as client:
        r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT 1"})
        assert r.status_code == 401
        alice = {"Authorization": "Bearer tok-a"}
        bob = {"Authorization": "Bearer tok-b"}
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1"},
                              headers=alice)
        url = r.headers["location"].replace("http://tap.test", "")
        assert (await client.get(url, headers=alice)).status_code == 200
        assert (await client.get(url, headers=bob)).status_code == 403
        assert (await client.delete(url, headers=bob)).status_code == 403
        listing = (await client.get("/tap/async", headers=bob)).text
        assert url.rsplit("/", 1)[1] not in listing
        assert (await client.get(url + "/owner", headers=alice)).text == "alice"


async def test_jobs_and_results_survive_a_restart(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "PHASE": "RUN",
                                                  "QUERY": "SELECT TOP 4 id FROM sky.objects"})
        url = r.headers["location"].replace("http://tap.test", "")
        await _wait_phase(client, url)
    async with service(tap_engine, tmp_path) as client:
        assert (await client.get(url + "/phase")).text == "COMPLETED"
        r = await client.get(url + "/results/result")
        assert len(votable(r).get_first_table().to_table()) == 4


async def test_destruction_cleaner_deletes_jobs_and_files(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "PHASE": "RUN",
                                                  "QUERY": "SELECT TOP 4 id FROM sky.objects"})
        url = r.headers["location"].replace("http://tap.test", "")
        await _wait_phase(client, url)
        job_id = url.rsplit("/", 1)[1]
        assert (tmp_path / "work" / "jobs" / job_id).is_dir()
        await client.post(url + "/destruction", data={"DESTRUCTION": "2000-01-01T00:00:00Z"})
        runner = client._transport.app.state.tap.runner
        assert await asyncio.to_thread(runner.clean_expired) == 1
        assert (await client.get(url)).status_code == 404
        assert not (tmp_path / "work" / "jobs" / job_id).exists()


async def test_vosi_documents(client):
    cap = ET.fromstring((await client.get("/tap/capabilities")).content)
    ids = {c.get("standardID") for c in cap}
    assert "ivo://ivoa.net/std/TAP" in ids
    text = (await client.get("/tap/capabilities")).text
    assert "features-adqlgeo" in text
    assert "<hard unit=\"row\">" in text
    avail = (await client.get("/tap/availability")).text
    assert "<vosi:available>true</vosi:available>" in avail
    tables = ET.fromstring((await client.get("/tap/tables")).content)
    names = [t.findtext("name") for t in tables.iter("table")]
    assert {"sky.objects", "sky.sources", "tap_schema.columns"} <= set(names)
    assert "<column>" not in (await client.get("/tap/tables", params={"detail": "min"})).text
    one = await client.get("/tap/tables/sky.sources")
    assert "<foreignKey>" in one.text
    assert (await client.get("/tap/tables/nope.nothing")).status_code == 404


async def test_every_example_query_runs(client):
    doc = ET.fromstring((await client.get("/tap/examples")).content)
    queries = [e.text for e in doc.iter() if e.get("property") == "query"]
    assert len(queries) >= 4
    for query in queries:
        r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": query})
        assert r.status_code == 200, (query, r.text)


async def test_running_jobs_respect_the_overall_cap(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, max_running_jobs=1,
                       max_running_jobs_per_owner=1) as client:
        urls = []
        for n in range(4):
            r = await client.post("/tap/async", data={
                "LANG": "ADQL", "PHASE": "RUN",
                "QUERY": f"SELECT TOP {n + 1} id FROM sky.objects"})
            urls.append(r.headers["location"].replace("http://tap.test", ""))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = ET.fromstring((await client.get("/tap/async")).content)
            phases = [ref.findtext(f"{UWS}phase") for ref in doc.findall(f"{UWS}jobref")]
            assert phases.count("EXECUTING") <= 1
            if phases.count("COMPLETED") == 4:
                break
        else:
            raise AssertionError(f"jobs did not all complete: {phases}")
