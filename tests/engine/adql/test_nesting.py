"""Deep nesting is refused with a clear error naming the limit, never a RecursionError (a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adql.parse import MAX_NESTING_DEPTH, MAX_QUERY_CHARS, MAX_TREE_DEPTH, parse_adql
from engine.adql.translate import to_duckdb
from engine.errors import AdqlError

LIMIT_TEXT = f"the limit is {MAX_NESTING_DEPTH} levels"


def nested_subqueries(n: int, table: str = "t") -> str:
    return "SELECT * FROM " + "(SELECT * FROM " * n + table + ") AS q" * n


def nested_parentheses(n: int) -> str:
    return "SELECT a FROM t WHERE " + "(" * n + "a = 1" + ")" * n


def duck(adql: str) -> str:
    return to_duckdb(parse_adql(adql)).sql(dialect="duckdb")


@pytest.mark.parametrize(
    "adql",
    [
        "(" * 10_000,
        nested_parentheses(10_000),
        nested_subqueries(2_000),
        "SELECT a FROM t WHERE a IN " + "(SELECT a FROM t WHERE a IN " * 2_000 + "(1)"
        + ")" * 2_000,
        "SELECT " + "ABS(" * 5_000 + "1" + ")" * 5_000 + " FROM t",
        "SELECT " + "CASE WHEN a = 1 THEN " * 3_000 + "1" + " END" * 3_000 + " FROM t",
        "SELECT a FROM t WHERE " + "NOT " * 20_000 + "a = 1",
        "SELECT " + "- " * 20_000 + "1 FROM t",
    ],
    ids=["parens-only", "parens", "subqueries", "in-subqueries", "functions", "case", "not",
         "minus"],
)
def test_deep_nesting_is_refused_naming_the_limit(adql: str) -> None:
    with pytest.raises(AdqlError, match=LIMIT_TEXT):
        parse_adql(adql)


@pytest.mark.parametrize(
    "adql",
    [
        "SELECT " + " + ".join(["1"] * 5_000) + " FROM t",
        "SELECT " + " || ".join(["'a'"] * 5_000) + " FROM t",
        "SELECT a FROM t" + " UNION SELECT a FROM t" * 2_000,
    ],
    ids=["plus", "concat", "union"],
)
def test_long_operator_chains_are_refused_naming_the_limit(adql: str) -> None:
    with pytest.raises(AdqlError, match=f"more than {MAX_TREE_DEPTH} levels"):
        parse_adql(adql)


def test_a_query_of_the_maximum_length_made_of_parentheses_is_refused_quickly() -> None:
    with pytest.raises(AdqlError, match=LIMIT_TEXT) as info:
        parse_adql("(" * MAX_QUERY_CHARS)
    assert len(str(info.value)) < 500  # the caret snippet shows a window, not the 1 MB line


def test_nesting_up_to_the_limit_parses_and_translates() -> None:
    depth = MAX_NESTING_DEPTH
    assert duck(nested_parentheses(depth - 1)).endswith(")" * (depth - 1))
    assert duck(nested_subqueries(depth - 1)).count("SELECT") == depth
    assert "ABS(" * (depth - 1) in duck(
        "SELECT " + "ABS(" * (depth - 1) + "1" + ")" * (depth - 1) + " FROM t"
    )
    assert duck("SELECT " + " + ".join(["1"] * (MAX_TREE_DEPTH - 10)) + " FROM t")


def test_long_and_or_chains_stay_accepted_and_shallow() -> None:
    # a generated list of 5,000 alternatives is a real use; it is rebalanced, not refused
    adql = "SELECT a FROM t WHERE " + " OR ".join(f"id = {i}" for i in range(5_000))
    sql = duck(adql)
    assert sql.count(" OR ") == 4_999
    assert "id\" = 4999" in sql


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[object]:
    api = pytest.importorskip("engine.api")
    engine = api.Engine.open(tmp_path)
    yield engine
    engine.close()


def test_engine_refuses_deep_nesting_as_a_user_error(empty_engine: object) -> None:
    for adql in ("(" * 10_000, nested_subqueries(2_000, "tap_schema.tables")):
        with pytest.raises(AdqlError, match=LIMIT_TEXT):
            empty_engine.query(adql)  # type: ignore[attr-defined]


def test_engine_runs_queries_at_the_nesting_limits(empty_engine: object) -> None:
    depth = MAX_NESTING_DEPTH
    adqls = [
        "SELECT table_name FROM tap_schema.tables WHERE "
        + "(" * depth + "table_name <> 'x'" + ")" * depth,
        "SELECT table_name FROM tap_schema.tables WHERE "
        + " OR ".join(f"table_name = 'x{i}'" for i in range(3_000)),
        nested_subqueries(depth - 1, "tap_schema.tables"),
    ]
    for adql in adqls:
        empty_engine.query(adql).to_table()  # type: ignore[attr-defined]
