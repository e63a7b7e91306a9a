"""IVOA ADQL validation queries (lyonetia): valid ones parse and translate, invalid ones fail.

The XML files are copied from lyonetia's ``src/adql/`` into ``tests/data/lyonetia/``
(GPL-3.0, LICENSE and SOURCE_COMMIT alongside), so CI needs no network.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import pytest
import sqlglot

from engine.adql.emit import to_adql
from engine.adql.parse import parse_adql
from engine.adql.translate import to_duckdb
from engine.errors import AdqlError

DATA = Path(__file__).parents[2] / "data" / "lyonetia"

USER_DEFINED_FUNCTIONS = {
    # Valid ADQL calling service-specific functions; we refuse every user-defined function.
    "6d5e927e-59b3-11ec-beef-28d2445a8967": "ivo_foo()",
    "760a0cdc-59b3-11ec-beef-28d2445a8967": "ivo_foo()",
    "1cb90482-4d00-11e6-866d-736653f6053c": "ivo_getstring()",
    "598ff7ac-9d06-4aad-9b77-8283b5d00838": "ivo_healpix_index()",
    "7928f365-6631-4415-be7d-29865f14c083": "ESO_INTERSECTION()",
    "4b8bd9f4-611c-4d2e-8227-2525dee664d2": "ESO_INTERSECTION()",
    "1084e068-8f31-4007-9d89-115dec609452": "ESO_INTERSECTION()",
    "7f30606b-509a-491f-8b5a-5d712f37670c": "eso_dateadd_sec()",
    "6794498f-1603-4a12-b0dd-e48be1acab4b": "eso_dateadd_sec()",
}
"""Valid queries we refuse on purpose (UnsupportedQueryError)."""

NOT_TRANSLATED = {
    # They parse (valid ADQL) but translation refuses them with a clear message.
    "efd97984-4cfe-11e6-b1bc-3d3af74034fa": "REGION() STC-S strings",
    "fd09fb58-4d01-11e6-8c9d-819288b39233": "REGION() STC-S strings",
    "1655f288-4d02-11e6-8c9d-819288b39233": "REGION() STC-S strings",
    "27fd6dd6-4d02-11e6-8c9d-819288b39233": "REGION() STC-S strings",
    # (this uuid is also used by a valid COALESCE query in O7, which translates fine)
    "O8_unit_operations:a504e0e3-2581-4e06-824e-2b287d123a7f": "IN_UNIT of an expression",
}

ACCEPTED_INVALID = {
    # ADQL 2.1's BNF makes the join specification optional for every qualified join
    # (<qualified_join> ::= ... JOIN <table_reference> [<join_specification>]) and gavo's
    # own tests accept "t1 LEFT OUTER JOIN t2"; we follow the BNF (INNER = cross join).
    "d4c3a72c-4458-11e6-96e2-28b2bdcff70b": "INNER JOIN without ON/USING",
}


def _queries() -> list[tuple[str, str, bool]]:
    found = []
    for path in sorted(DATA.rglob("*.xml")):
        for query in ET.parse(path).getroot().iter("query"):
            adql = query.find("adql")
            assert adql is not None
            assert adql.text
            valid = adql.get("valid", "false") == "true"
            found.append((f"{path.parent.name}/{path.stem}:{query.get('uuid')}", adql.text, valid))
    return found


QUERIES = _queries()


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as connection:
        yield connection


def _duckdb_parses(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Both sqlglot and DuckDB's own parser (json_serialize_sql parses without binding)."""
    sqlglot.parse_one(sql, read="duckdb")
    row = con.execute("SELECT json_serialize_sql($1)", [sql]).fetchone()
    assert row is not None
    result = json.loads(row[0])
    assert not result["error"], (sql, result)


def test_collection_is_present() -> None:
    assert len(QUERIES) == 495
    assert sum(valid for _, _, valid in QUERIES) == 413


@pytest.mark.parametrize(("key", "text", "valid"), QUERIES, ids=[q[0] for q in QUERIES])
def test_lyonetia_query(
    con: duckdb.DuckDBPyConnection, key: str, text: str, valid: bool
) -> None:
    uuid = key.split(":", 1)[1]
    if uuid in USER_DEFINED_FUNCTIONS:
        with pytest.raises(AdqlError, match="not an ADQL function"):
            parse_adql(text)
        return
    if not valid and uuid not in ACCEPTED_INVALID:
        with pytest.raises(AdqlError):
            parse_adql(text)
        return
    tree = parse_adql(text)
    assert parse_adql(to_adql(tree)) == tree
    if uuid in NOT_TRANSLATED or key.split("/", 1)[1] in NOT_TRANSLATED:
        with pytest.raises(AdqlError):
            to_duckdb(tree, units=lambda column: "deg")
        return
    _duckdb_parses(con, to_duckdb(tree, units=lambda column: "deg").sql(dialect="duckdb"))
