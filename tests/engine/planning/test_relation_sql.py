"""A task's relations written as text: the same SQL as sqlglot's generator gives for the tree."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from engine.catalog import ColumnInfo, Partition, PublishedTable, TableKind, TableManifest
from engine.planning import bind
from engine.planning.bind import (
    TableSource,
    bound_sql,
    relation,
    relation_sql,
    substitute,
    substitute_sql,
)

NAMES = st.text(alphabet='ab"_ é', min_size=1, max_size=6)
FLOATS = st.floats(width=64)
RANGES = st.lists(st.tuples(st.integers(0, 1 << 62), st.integers(0, 1 << 62)), max_size=4)


def _table(columns: list[str], paths: list[str], kind: TableKind) -> TableSource:
    infos = tuple(ColumnInfo(name, "double") for name in dict.fromkeys(columns))
    parts = tuple(Partition(3, i, 10, path) for i, path in enumerate(paths))
    manifest = TableManifest(
        name="s.t", kind=kind, columns=infos, nrows=10 * len(parts), ra_column=infos[0].name,
        dec_column=infos[0].name, partitions=parts if kind != TableKind.REGULAR else (),
        regular_files=tuple(paths) if kind == TableKind.REGULAR else ())
    return TableSource("s.t", infos, published=PublishedTable(manifest, Path("/d/o'q")))


@settings(max_examples=100, deadline=None)
@given(columns=st.lists(NAMES, min_size=1, max_size=3),
       paths=st.lists(st.sampled_from(["a.parquet", "/abs/b'c.parquet", "x/y.parquet"]),
                      max_size=3),
       kind=st.sampled_from([TableKind.POSITIONAL, TableKind.REGULAR]),
       ranges=st.none() | RANGES,
       bounds=st.none() | st.tuples(NAMES, FLOATS, FLOATS),
       window=st.none() | st.tuples(NAMES, FLOATS, FLOATS),
       alias=NAMES)
def test_relation_text_is_the_generators(columns: list[str], paths: list[str], kind: TableKind,
                                         ranges: list[tuple[int, int]] | None,
                                         bounds: tuple[str, float, float] | None,
                                         window: tuple[str, float, float] | None,
                                         alias: str) -> None:
    source = _table(columns, paths, kind)
    tree = relation(source, ranges=ranges, bounds=bounds, window=window)
    text = relation_sql(source, ranges=ranges, bounds=bounds, window=window)
    assert text == tree.sql(dialect="duckdb")
    table = exp.Table(this=exp.to_identifier("t"), alias=exp.TableAlias(
        this=exp.to_identifier(alias, quoted=True)))
    assert substitute_sql(table, text) == substitute(table, tree).sql(dialect="duckdb")


def test_memory_relation_text_is_the_generators() -> None:
    data = pa.table({"a": [1.0], 'b"c': [2.0]})
    source = TableSource("tap_upload.t", (ColumnInfo("a", "double"), ColumnInfo('b"c', "double")),
                         memory=data)
    assert relation_sql(source) == relation(source).sql(dialect="duckdb")


def test_bound_sql_with_text_equals_with_trees() -> None:
    """Relations as text or as trees give the same task SQL, the tree left as it was;
    a query holding the placeholder's own text still gets a correct, equal SQL."""
    source = _table(["ra", "dec"], ["p.parquet"], TableKind.POSITIONAL)
    kept = [(10, 20)]
    for where in ("x.ra > 1", f"x.dec = '{bind._MARKER}0'"):
        query = exp.maybe_parse(f"SELECT x.ra FROM s.t AS x JOIN s.t AS y ON x.ra = y.ra "
                                f"WHERE {where}", dialect="duckdb")
        before = query.sql(dialect="duckdb")
        as_tree = bound_sql(query, lambda t: substitute(t, relation(source, ranges=kept)))
        as_text = bound_sql(query, lambda t: substitute_sql(t, relation_sql(source,
                                                                            ranges=kept)))
        assert as_text == as_tree
        assert query.sql(dialect="duckdb") == before
