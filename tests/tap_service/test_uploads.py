"""Uploaded tables whose columns a query could not tell apart are refused, never mixed up."""

import io

import pytest
from astropy.io.votable import parse
from astropy.io.votable.tree import Field, Resource, TableElement, VOTableFile

from tests.tap_service.test_service import service

pytestmark = pytest.mark.asyncio


def _message(response):
    infos = parse(io.BytesIO(response.content)).resources[0].infos
    return next(i.content for i in infos if i.name == "QUERY_STATUS")


def _votable(names):
    vot = VOTableFile()
    resource = Resource()
    vot.resources.append(resource)
    table = TableElement(vot)
    resource.tables.append(table)
    table.fields.extend(Field(vot, name=n, ID=f"c{i}", datatype="int")
                        for i, n in enumerate(names))
    table.create_arrays(1)
    table.array[0] = tuple(range(1, len(names) + 1))
    buf = io.BytesIO()
    vot.to_xml(buf)
    return buf.getvalue()


async def _upload(client, data, filename="t.csv", endpoint="/tap/sync"):
    return await client.post(endpoint, data={
        "LANG": "ADQL", "UPLOAD": "t,param:f", "QUERY": "SELECT a, b FROM TAP_UPLOAD.t"},
        files={"f": (filename, data, "application/octet-stream")})


@pytest.mark.parametrize("endpoint", ["/tap/sync", "/tap/async"])
async def test_columns_differing_only_in_case_are_refused(tap_engine, tmp_path, endpoint):
    async with service(tap_engine, tmp_path) as client:
        r = await _upload(client, b"a,b,A\n1,2,3\n", endpoint=endpoint)
        assert r.status_code == 400
        assert "names that differ only in case, 'a' and 'A'" in _message(r)
        r = await _upload(client, _votable(["a", "b", "B"]), "t.xml", endpoint=endpoint)
        assert r.status_code == 400
        assert "'b' and 'B'" in _message(r)


async def test_repeated_column_names_are_refused(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await _upload(client, b"a,b,a\n1,2,3\n")
    assert r.status_code == 400
    assert "the same name, 'a' and 'a'" in _message(r)


@pytest.mark.parametrize("header", [b",,", b"a,,b", b"a, ,b"])
async def test_columns_without_names_are_refused(tap_engine, tmp_path, header):
    async with service(tap_engine, tmp_path) as client:
        r = await _upload(client, header + b"\n1,2,3\n")
    assert r.status_code == 400
    assert "columns without a name" in _message(r)


async def test_distinct_names_are_answered_column_by_column(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await _upload(client, b"a,b,c\n1,2,3\n")
    assert r.status_code == 200, r.text
    row = parse(io.BytesIO(r.content)).get_first_table().to_table()[0]
    assert (row["a"], row["b"]) == (1, 2)
