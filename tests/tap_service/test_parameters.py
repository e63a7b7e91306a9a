"""Malformed or reserved parameters are 400 error documents on every endpoint, never 500s."""

import io

import httpx
import pytest
from astropy.io.votable import parse

from tests.tap_service.test_service import CONE, service

pytestmark = pytest.mark.asyncio


def _message(response):
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    infos = parse(io.BytesIO(response.content)).resources[0].infos
    return next(i.content for i in infos if i.name == "QUERY_STATUS")


async def _new_job(client, **params):
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE, **params})
    assert r.status_code == 303, r.text
    return httpx.URL(r.headers["location"]).path


@pytest.mark.parametrize(("value", "message"), [
    ("inf", "Invalid EXECUTIONDURATION 'inf'"),
    ("1e400", "Invalid EXECUTIONDURATION '1e400'"),
    ("nan", "Invalid EXECUTIONDURATION 'nan'"),
    ("-5", "Invalid EXECUTIONDURATION '-5'"),
    ("soon", "Invalid EXECUTIONDURATION 'soon'"),
])
async def test_bad_execution_durations_are_400(tap_engine, tmp_path, value, message):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE,
                                                  "EXECUTIONDURATION": value})
        assert r.status_code == 400
        assert message in _message(r)
        job = await _new_job(client)
        for path in (job, job + "/executionduration", job + "/parameters"):
            r = await client.post(path, data={"EXECUTIONDURATION": value})
            assert r.status_code == 400, path
            assert message in _message(r)


async def test_large_and_zero_execution_durations_mean_the_longest(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        for value in ("1e300", "0"):
            job = await _new_job(client, EXECUTIONDURATION=value)
            r = await client.get(job + "/executionduration")
            assert r.text == "14400"


@pytest.mark.parametrize("value", ["1" + "0" * 29, "0", "-1", "²", "1.5", "many"])
async def test_bad_last_is_400(tap_engine, tmp_path, value):
    async with service(tap_engine, tmp_path) as client:
        r = await client.get("/tap/async", params={"LAST": value})
    assert r.status_code == 400
    assert f"Invalid LAST '{value}'" in _message(r)


async def test_the_largest_last_lists_the_jobs(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        await _new_job(client)
        r = await client.get("/tap/async", params={"LAST": "1000000000"})
    assert r.status_code == 200
    assert r.text.count("<uws:jobref") == 1


@pytest.mark.parametrize("value", ["tomorrow", "0001-01-01T00:30:00+01:00",
                                   "9999-12-31T23:59:59-01:00", "2030-02-30T00:00:00Z"])
async def test_bad_destruction_times_are_400(tap_engine, tmp_path, value):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE,
                                                  "DESTRUCTION": value})
        assert r.status_code == 400
        assert f"Invalid DESTRUCTION '{value}'" in _message(r)
        job = await _new_job(client)
        r = await client.post(job + "/destruction", data={"DESTRUCTION": value})
        assert r.status_code == 400
        r = await client.get("/tap/async", params={"AFTER": value})
        assert r.status_code == 400
        assert f"Invalid AFTER '{value}'" in _message(r)


@pytest.mark.parametrize("value", ["nan", "inf", "forever"])
async def test_bad_wait_is_400(tap_engine, tmp_path, value):
    async with service(tap_engine, tmp_path) as client:
        job = await _new_job(client)
        r = await client.get(job, params={"WAIT": value})
    assert r.status_code == 400
    assert f"Invalid WAIT '{value}'" in _message(r)


async def test_unknown_phase_is_400_everywhere(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE,
                                                  "PHASE": "START"})
        assert r.status_code == 400
        assert "Invalid PHASE 'START'" in _message(r)
        job = await _new_job(client)
        r = await client.get(job, params={"WAIT": "1", "PHASE": "RUNNING"})
        assert r.status_code == 400


@pytest.mark.parametrize("name", ["_UPLOAD_FILES", "_upload_files", "_anything"])
async def test_internal_parameter_names_are_refused(tap_engine, tmp_path, name):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE,
                                                  name: "{'t': '/etc/passwd'}"})
        assert r.status_code == 400
        assert "reserved for the service" in _message(r)
        job = await _new_job(client)
        r = await client.post(job + "/parameters", data={name: "x"})
        assert r.status_code == 400
        r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": CONE, name: "x"})
        assert r.status_code == 400


async def test_control_characters_that_xml_cannot_carry_are_refused(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": CONE,
                                                  "RUNID": "run\x01"})
        assert r.status_code == 400
        assert "U+0001 at position 4" in _message(r)
        r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": "SELECT\x00 1"})
        assert r.status_code == 400


@pytest.mark.parametrize("value", ["1e3", "1.5", "-1", "9" * 5000, "lots"])
async def test_bad_maxrec_is_400(tap_engine, tmp_path, value):
    async with service(tap_engine, tmp_path) as client:
        r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": CONE,
                                                  "MAXREC": value})
    assert r.status_code == 400
    assert "MAXREC" in _message(r)


async def test_repeated_parameters_take_the_last_value(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.get("/tap/sync", params=[
            ("LANG", "ADQL"), ("QUERY", "SELECT nothing FROM nowhere"), ("QUERY", CONE),
            ("MAXREC", "1"), ("maxrec", "2")])
    assert r.status_code == 200
    table = parse(io.BytesIO(r.content)).get_first_table().to_table()
    assert len(table) == 2
