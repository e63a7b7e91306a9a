"""The analysis pass: what an ADQL query reads and what limits it, found once on its tree.

Everything the plan shapes need is here, decided on the ADQL tree (geometry still as
:mod:`engine.adql.nodes`): the tables of the top SELECT, the regions and id values that
constrain each, the distance joining two tables (a cross-match), the result columns, and
the DuckDB tree the shapes bind to chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
from sqlglot import exp

from engine.adql.parse import parse_adql
from engine.adql.translate import to_duckdb
from engine.adql.walk import find_all
from engine.catalog import ColumnInfo, PublishedTable, TableKind
from engine.plan import QueryPlan, ResultColumn
from engine.planning import constraints
from engine.planning.bind import TableSource
from engine.planning.columns import (
    expand_stars,
    result_columns,
    strip_schema_qualifiers,
    unit_lookup,
)
from engine.planning.resolve import Sources, resolve_tables, table_key
from engine.planning.split import name_outputs
from engine.sky.regions import Region


@dataclass
class TableRef:
    """A table reference of the top SELECT block and what constrains its rows."""

    node: exp.Table
    source: TableSource
    alias: str
    prunable: bool
    """False when an outer join pads it: its constraints then do not limit its rows."""
    region: Region | None = None
    """The region the reference's own positions are restricted to."""
    id_lookups: list[tuple[PublishedTable, list[int | str]]] = field(default_factory=list)
    """Id values the reference is restricted to, each with the table whose id index maps
    them to places (the table itself, or a child's director for its director key)."""


@dataclass
class Analysis:
    """One query, analysed: the input of every plan shape."""

    adql: str
    duck: exp.Expr
    """The DuckDB tree (schema qualifiers of columns removed) the shapes bind to chunks."""
    sources: Sources
    refs: list[TableRef]
    """Tables of the top FROM and its joins, in order (empty unless the query is a SELECT)."""
    columns: tuple[ResultColumn, ...]
    memory: dict[str, pa.Table]
    maxrec: int | None
    match: constraints.PairMatch | None = None
    """A distance condition joining ``refs[0]`` (first) and ``refs[1]`` (second)."""
    blocker: str | None = None
    """Why no shape but ``single`` can run the query (None: the shapes are tried)."""

    @property
    def partitioned_refs(self) -> list[TableRef]:
        """The top-level references to partitioned tables."""
        return [r for r in self.refs if r.source.partitioned]

    def plan(self, **fields: Any) -> QueryPlan:
        """Return a plan of this query (``adql``, ``columns`` and ``memory`` filled in)."""
        return QueryPlan(**{"adql": self.adql, "columns": self.columns,
                            "memory": self.memory, **fields})


def analyse(adql: str, tables: Mapping[str, PublishedTable],
            memory_tables: Mapping[str, tuple[pa.Table, tuple[ColumnInfo, ...]]],
            uploads: Mapping[str, pa.Table], *, maxrec: int | None) -> Analysis:
    """Parse, resolve and analyse ``adql``; raises AdqlError subclasses for bad queries."""
    tree = parse_adql(adql)
    sources = resolve_tables(tree, tables, memory_tables, uploads)
    refs: list[TableRef] = []
    match = None
    if isinstance(tree, exp.Select):
        refs = _top_refs(tree, sources)
        expand_stars(tree, refs)
        name_outputs(tree)
        _constrain(tree, refs, tables)
        match = _pair_match(tree, refs)
    columns = result_columns(tree, refs)
    # The ADQL tree is not read after this: translated in place, not copied (the tables
    # the refs hold become the DuckDB tree's, with the same names and aliases).
    duck = to_duckdb(tree, units=unit_lookup(tree, sources), copy=False)
    strip_schema_qualifiers(duck)
    memory = {s.memory_name: s.memory for s in sources.values() if s.memory is not None}
    return Analysis(adql=adql, duck=duck, sources=sources, refs=refs, columns=columns,
                    memory=memory, maxrec=maxrec, match=match,
                    blocker=_blocker(duck, refs, sources))


def _blocker(duck: exp.Expr, refs: list[TableRef], sources: Sources) -> str | None:
    """Why only one task can run the query, or None when the chunked shapes may apply."""
    if not isinstance(duck, exp.Select):
        return "a set operation (UNION, INTERSECT, EXCEPT) runs as one task"
    top = [r for r in refs if r.source.partitioned]
    partitioned = [s for s in sources.values() if s.partitioned]
    if not top:
        if partitioned:
            return ("its partitioned tables are read in subqueries or WITH, not in the "
                    "top FROM")
        return "it reads no partitioned table"
    nodes = sum(1 for t in find_all(duck, exp.Table)
                if table_key(t) in sources and sources[table_key(t)].partitioned)
    if len(partitioned) != len({id(r.source) for r in top}) or len(top) != nodes:
        return ("a partitioned table is also read in a subquery or WITH (a chunk task would "
                "see only its own chunks there)")
    return None


def _top_refs(select: exp.Select, sources: Sources) -> list[TableRef]:
    """Top-level FROM tables, each marked prunable unless an outer join pads it."""
    items: list[tuple[exp.Expr, str]] = []
    from_ = select.args.get("from_")
    if from_ is not None:
        items.append((from_.this, "INNER"))
    items.extend((join.this, (join.side or "INNER").upper())
                 for join in select.args.get("joins") or [])
    padded: set[int] = set()
    for index, (_node, side) in enumerate(items):
        if side in ("LEFT", "FULL"):
            padded.add(index)
        if side in ("RIGHT", "FULL"):
            padded.update(range(index))
    return [TableRef(node=node, source=sources[table_key(node)],
                     alias=(node.alias or node.name).lower(), prunable=index not in padded)
            for index, (node, _side) in enumerate(items)
            if isinstance(node, exp.Table) and table_key(node) in sources]


def _constrain(select: exp.Select, refs: list[TableRef],
               tables: Mapping[str, PublishedTable]) -> None:
    """Attach region and id constraints to the prunable top-level references."""
    where = select.args.get("where")
    predicates = constraints.conjuncts(where.this if where is not None else None)
    for join in select.args.get("joins") or []:
        if not join.side:
            predicates += constraints.conjuncts(join.args.get("on"))
    for ref in refs:
        manifest = ref.source.manifest
        if not ref.prunable or manifest is None or not ref.source.partitioned:
            continue
        matcher = column_matcher(ref, refs)
        if manifest.ra_column and manifest.dec_column:
            cols = constraints.PositionColumns(
                is_ra=matcher(manifest.ra_column), is_dec=matcher(manifest.dec_column))
            ref.region = constraints.region_constraint(predicates, cols)
        for indexed, column in _indexed_keys(ref.source, tables):
            values = constraints.id_constraint(predicates, matcher(column))
            if values is not None:
                ref.id_lookups.append((indexed, values))


def _indexed_keys(source: TableSource, tables: Mapping[str, PublishedTable]
                  ) -> list[tuple[PublishedTable, str]]:
    """Columns of a table whose values an id index places: (indexed table, column).

    A table's own id is in its own index; a child's director key holds its director's
    ids, placed by the director's index (a child row lives with its director row).
    """
    manifest = source.manifest
    assert manifest is not None and source.published is not None
    keys = []
    if manifest.id_column and manifest.id_index:
        keys.append((source.published, manifest.id_column))
    director = tables.get(manifest.director or "")
    if (manifest.kind == TableKind.CHILD and manifest.director_key and director is not None
            and director.manifest.id_index):
        keys.append((director, manifest.director_key))
    return keys


def _pair_match(select: exp.Select, refs: list[TableRef]) -> constraints.PairMatch | None:
    """The distance condition of a join of two tables (ON, and WHERE unless LEFT), if any."""
    joins = select.args.get("joins") or []
    if len(refs) != 2 or len(joins) != 1:
        return None
    preds = constraints.conjuncts(joins[0].args.get("on"))
    if (joins[0].side or "").upper() != "LEFT":
        where = select.args.get("where")
        preds += constraints.conjuncts(where.this if where is not None else None)
    first, second = (_position_columns(r, refs) for r in refs)
    if first is None or second is None:
        return None
    match = constraints.match_constraint(preds, first, second)
    if match is None:
        return None
    return replace(match, first=_canonical(refs[0], match.first),
                   second=_canonical(refs[1], match.second))


def _canonical(ref: TableRef, names: tuple[str, str]) -> tuple[str, str]:
    """The table's own spelling of two of its column names."""
    spelled = {c.name.lower(): c.name for c in ref.source.columns}
    return spelled.get(names[0].lower(), names[0]), spelled.get(names[1].lower(), names[1])


def _position_columns(ref: TableRef, refs: list[TableRef]
                      ) -> constraints.PositionColumns | None:
    """How to recognise ``ref``'s position: its ra/dec when published, any two columns of an
    in-memory table (an upload names its positions in the query)."""
    matcher = column_matcher(ref, refs)
    manifest = ref.source.manifest
    if manifest is not None:
        if not manifest.ra_column or not manifest.dec_column:
            return None
        return constraints.PositionColumns(is_ra=matcher(manifest.ra_column),
                                           is_dec=matcher(manifest.dec_column))
    known = [matcher(c.name) for c in ref.source.columns]

    def any_column(col: exp.Column) -> bool:
        return any(m(col) for m in known)

    return constraints.PositionColumns(is_ra=any_column, is_dec=any_column)


def column_matcher(ref: TableRef, refs: list[TableRef]
                   ) -> Callable[[str], constraints.ColumnMatcher]:
    """Return a factory: column name -> predicate recognising it for this reference."""
    others = [r for r in refs if r is not ref]

    def factory(name: str) -> constraints.ColumnMatcher:
        def match(col: exp.Column) -> bool:
            if col.name.lower() != name.lower():
                return False
            if col.table:
                return col.table.lower() == ref.alias
            return not any(name.lower() in {c.name.lower() for c in o.source.columns}
                           for o in others)
        return match

    return factory
