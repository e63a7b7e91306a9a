"""A misspelt column is a 400 in ADQL terms: the name, a suggestion, line, column and caret.

DuckDB's own wording ("Candidate bindings", "Values list", the generated SQL) never reaches
the client.
"""

import pytest

from tests.tap_service.test_deep_queries import client, error_text  # noqa: F401 (fixture)

pytestmark = pytest.mark.asyncio


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
async def test_unknown_column_is_a_400_in_adql_words(client, query, message):  # noqa: F811
    r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query})
    assert r.status_code == 400, r.text[:500]
    text = error_text(r)
    assert message in text
    assert "^" in text
    for internal in ("Candidate bindings", "Values list", "Binder Error", "FROM clause!"):
        assert internal not in text
