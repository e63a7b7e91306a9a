"""A misspelt column is a 400 in ADQL terms: the name, a suggestion, line, column and caret.

DuckDB's own wording ("Candidate bindings", "Values list", the generated SQL) never reaches
the client.
"""

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


@pytest.mark.parametrize(("query", "message"), [
    ("SELECT id, rra FROM sky.objects",
     "Unknown column 'rra'. Did you mean 'ra'? (line 1, column 12)"),
    ("SELECT TOP 5 o.id,\n  o.decc FROM sky.objects AS o",
     "Table 'o' has no column 'decc'. (line 2, column 5)"),
    ("SELECT TOP 3 * FROM (SELECT id FROM sky.objects) AS s WHERE s.ra > 3",
     "Table 's' has no column 'ra'. (line 1, column 63)"),
    ("SELECT TOP 5 x.id FROM sky.objects AS o",
     "Unknown table or alias 'x'"),
], ids=["bare", "qualified", "subquery", "alias"])
async def test_unknown_column_is_a_400_in_adql_words(client, query, message):
    r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query})
    assert r.status_code == 400, r.text[:500]
    text = error_text(r)
    assert message in text
    assert "^" in text
    for internal in ("Candidate bindings", "Values list", "Binder Error", "FROM clause!"):
        assert internal not in text
