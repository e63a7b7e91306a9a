"""Round trip: generated ADQL -> parse -> to_adql -> parse gives the same tree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adql.emit import to_adql
from engine.adql.parse import parse_adql

columns = st.sampled_from(["ra", "dec", "mag", "o.ra", "o.Flux", '"Mixed Case"', '"size"', "id"])
numbers = st.one_of(
    st.integers(0, 10_000).map(str),
    st.floats(0, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["1e-3", "2.5E4", "0.5", ".5", "10."]),
)
strings = st.sampled_from(["'abc'", "'it''s'", "''", "'%x_'", "'ICRS'"])


def _numeric(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    one_arg = st.tuples(
        st.sampled_from(["ABS", "CEILING", "FLOOR", "SQRT", "EXP", "LOG", "LOG10", "SIN",
                         "COS", "TAN", "ASIN", "ACOS", "ATAN", "COT", "DEGREES", "RADIANS",
                         "TRUNCATE", "ROUND"]),
        children,
    ).map(lambda t: f"{t[0]}({t[1]})")
    two_args = st.tuples(
        st.sampled_from(["POWER", "MOD", "ATAN2", "ROUND", "TRUNCATE", "NULLIF"]),
        children,
        children,
    ).map(lambda t: f"{t[0]}({t[1]}, {t[2]})")
    geometry = st.tuples(children, children, children, children).flatmap(
        lambda t: st.sampled_from([
            f"DISTANCE(POINT({t[0]}, {t[1]}), POINT('ICRS', {t[2]}, {t[3]}))",
            f"DISTANCE({t[0]}, {t[1]}, {t[2]}, {t[3]})",
            f"COORD1(POINT({t[0]}, {t[1]}))",
            f"AREA(CIRCLE({t[0]}, {t[1]}, {t[2]}))",
            f"AREA(POLYGON({t[0]}, {t[1]}, {t[2]}, {t[3]}, 1, 2))",
            f"CONTAINS(POINT({t[0]}, {t[1]}), CIRCLE('', {t[2]}, {t[3]}, 0.1))",
        ])
    )
    other = st.tuples(children, children).flatmap(
        lambda t: st.sampled_from([
            f"CASE WHEN {t[0]} > {t[1]} THEN {t[0]} ELSE {t[1]} END",
            f"CAST({t[0]} AS DOUBLE PRECISION)",
            f"CAST({t[0]} AS INTEGER)",
            f"COALESCE({t[0]}, {t[1]}, 0)",
            f"-{t[0]}",
            "PI()",
            "RAND()",
        ])
    )
    return st.one_of(binary, one_arg, two_args, geometry, other)


numeric = st.recursive(st.one_of(columns, numbers), _numeric, max_leaves=6)
text_expr = st.one_of(
    strings,
    st.tuples(columns, strings).map(lambda t: f"LOWER({t[0]}) || {t[1]}"),
    columns.map(lambda c: f"UPPER(CAST({c} AS VARCHAR(20)))"),
)


def _predicates(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["AND", "OR"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda p: f"NOT ({p})"),
    )


comparison = st.one_of(
    st.tuples(numeric, st.sampled_from(["=", "<>", "<", ">", "<=", ">=", "!="]), numeric).map(
        " ".join
    ),
    st.tuples(numeric, numeric, numeric).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
    st.tuples(numeric, numeric, numeric).map(lambda t: f"{t[0]} NOT BETWEEN {t[1]} AND {t[2]}"),
    st.tuples(text_expr, strings).map(lambda t: f"{t[0]} LIKE {t[1]}"),
    st.tuples(text_expr, strings).map(lambda t: f"{t[0]} ILIKE {t[1]}"),
    columns.map(lambda c: f"{c} IS NULL"),
    columns.map(lambda c: f"{c} IS NOT NULL"),
    st.tuples(columns, st.lists(numbers, min_size=1, max_size=3)).map(
        lambda t: f"{t[0]} IN ({', '.join(t[1])})"
    ),
    st.tuples(numeric, numeric).map(
        lambda t: f"1 = CONTAINS(POINT(ra, dec), CIRCLE({t[0]}, {t[1]}, 0.5))"
    ),
    columns.map(lambda c: f"{c} IN (SELECT id FROM s.other)"),
)
predicate = st.recursive(comparison, _predicates, max_leaves=4)


@st.composite
def queries(draw: st.DrawFn) -> str:
    parts = ["SELECT"]
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["DISTINCT", "ALL"])))
    if draw(st.booleans()):
        parts.append(f"TOP {draw(st.integers(0, 1000))}")
    items = draw(st.lists(st.one_of(numeric, text_expr), min_size=1, max_size=3))
    parts.append(", ".join(f"{e} AS c{i}" for i, e in enumerate(items)))
    parts.append(draw(st.sampled_from([
        "FROM dp1.Object AS o",
        "FROM dp1.object AS o JOIN dp1.source AS s ON o.id = s.id",
        "FROM dp1.object AS o LEFT OUTER JOIN s.t USING (id)",
        "FROM (SELECT * FROM dp1.object) AS o",
    ])))
    if draw(st.booleans()):
        parts.append(f"WHERE {draw(predicate)}")
    if draw(st.booleans()):
        parts.append("ORDER BY " + draw(st.sampled_from(["1", "c0 DESC", "o.ra ASC, 1 DESC"])))
    if draw(st.booleans()):
        parts.append(f"OFFSET {draw(st.integers(0, 99))}")
    query = " ".join(parts)
    if draw(st.booleans()):
        query += " UNION ALL SELECT TOP 3 " + ", ".join(
            f"mag AS c{i}" for i in range(len(items))
        ) + " FROM dp1.object"
    return query


@settings(max_examples=300, deadline=None)
@given(queries())
def test_emitted_adql_parses_back_to_the_same_tree(adql: str) -> None:
    tree = parse_adql(adql)
    text = to_adql(tree)
    again = parse_adql(text)
    assert again == tree, (adql, text)
    assert to_adql(again) == text
