"""VOSI and DALI documents advertise exactly what the service does."""

import xml.etree.ElementTree as ET

import pytest

from tests.tap_service.test_service import service

pytestmark = pytest.mark.asyncio
TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt#"


async def _upload_methods(client):
    r = await client.get("/tap/capabilities")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    return {m.get("ivo-id").removeprefix(TAPREGEXT) for m in root.iter("uploadMethod")}


async def test_url_uploads_are_not_advertised_when_refused(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path, upload_allow_urls=False) as client:
        assert await _upload_methods(client) == {"upload-inline"}
        # ... and they are indeed refused:
        r = await client.post("/tap/sync", data={"LANG": "ADQL", "UPLOAD": "t,http://h/t.xml",
                                                 "QUERY": "SELECT * FROM TAP_UPLOAD.t"})
        assert r.status_code == 400


async def test_url_uploads_are_advertised_when_enabled_as_by_default(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        assert await _upload_methods(client) == {"upload-inline", "upload-http",
                                                 "upload-https"}


async def test_examples_use_the_dali_examples_vocabulary(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.get("/tap/examples")
    body = ET.fromstring(r.content).find("{http://www.w3.org/1999/xhtml}body")
    assert body.get("vocab") == "http://www.ivoa.net/rdf/examples#"
