"""Deeply nested or non-ADQL queries are 400s with a VOTable error document, never 500s."""

import io

import pytest
import pytest_asyncio
from astropy.io.votable import parse

from tests.tap_service.test_service import service

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def client(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as c:
        yield c


def error_text(response) -> str:
    vot = parse(io.BytesIO(response.content))
    infos = {i.name: i for i in vot.resources[0].infos}
    assert infos["QUERY_STATUS"].value == "ERROR"
    return infos["QUERY_STATUS"].content or ""


@pytest.mark.parametrize("query", [
    "(" * 10_000,
    "SELECT * FROM " + "(SELECT * FROM " * 2_000 + "sky.objects" + ") AS q" * 2_000,
    "SELECT id FROM sky.objects WHERE " + "NOT " * 20_000 + "id = 1",
], ids=["parentheses", "subqueries", "not"])
async def test_deep_nesting_is_a_400_votable_naming_the_limit(client, query):
    r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query})
    assert r.status_code == 400, r.text[:500]
    assert "the limit is 25 levels" in error_text(r)


@pytest.mark.parametrize(("query", "message"), [
    ("SELECT * EXCLUDE (ra) FROM sky.objects", "EXCLUDE is not ADQL"),
    ("FROM sky.objects SELECT id", "FROM-first queries are not ADQL"),
    ("SELECT id\nFROM WHERE id = 1", "Expected a table name, found 'WHERE' at line 2, column 6"),
])
async def test_non_adql_and_syntax_errors_are_400s_in_adql_words(client, query, message):
    r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query})
    assert r.status_code == 400
    text = error_text(r)
    assert message in text
    assert "Token" not in text
