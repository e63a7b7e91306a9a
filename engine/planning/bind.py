"""Table sources and their bindings: how a table reference reads its rows in one task.

A binding replaces ``schema.table AS t`` in the DuckDB tree by a subquery over the
Parquet files of the chosen chunks, restricted to ``_healpix_29`` ranges when a region
constrains the table (so DuckDB skips row groups), and listing the table's columns only
(so ``*`` never shows internal columns). Only paths from manifests reach the SQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import sqlglot
from sqlglot import exp

from engine.adql.walk import find_all
from engine.catalog import ColumnInfo, Partition, PublishedTable, TableKind, TableManifest
from engine.sky.healpix import SPATIAL_INDEX_COLUMN

_ARROW_TO_DUCKDB = {
    "bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER",
    "int64": "BIGINT", "uint8": "UTINYINT", "uint16": "USMALLINT", "uint32": "UINTEGER",
    "uint64": "UBIGINT", "float": "FLOAT", "float32": "FLOAT", "halffloat": "FLOAT",
    "double": "DOUBLE", "float64": "DOUBLE", "string": "VARCHAR", "large_string": "VARCHAR",
    "binary": "BLOB", "date32[day]": "DATE",
}


@dataclass(frozen=True, slots=True)
class TableSource:
    """A table the query names: a published table or an in-memory one (upload, TAP_SCHEMA)."""

    name: str
    columns: tuple[ColumnInfo, ...]
    published: PublishedTable | None = None
    memory: pa.Table | None = field(default=None, compare=False)

    @property
    def manifest(self) -> TableManifest | None:
        """The manifest of a published table."""
        return self.published.manifest if self.published else None

    @property
    def partitioned(self) -> bool:
        """Whether rows are spread over HEALPix chunks."""
        m = self.manifest
        return m is not None and m.kind in (TableKind.POSITIONAL, TableKind.CHILD)

    @property
    def memory_name(self) -> str:
        """Name under which an in-memory table is registered on the connection."""
        return "__mem_" + self.name.replace(".", "__")

    def files(self, partitions: Sequence[Partition], *, margins: bool = False) -> list[str]:
        """Return absolute paths of partition files (and their margins)."""
        assert self.published is not None
        # Joined as strings: pathlib took ~20 us a file (2 s for a scan of 10^5 partitions).
        root = str(self.published.root).rstrip(os.sep) + os.sep

        def absolute(path: str) -> str:
            return path if path.startswith(os.sep) else root + path

        paths = [absolute(p.path) for p in partitions]
        if margins:
            paths += [absolute(p.margin_path)
                      for p in partitions if p.margin_path and p.margin_nrows > 0]
        return paths


def duckdb_type(datatype: str) -> str:
    """Return the DuckDB type for an Arrow type name (VARCHAR when unknown)."""
    if datatype.startswith("timestamp"):
        return "TIMESTAMP"
    return _ARROW_TO_DUCKDB.get(datatype, "VARCHAR")


def _column_list(columns: Sequence[ColumnInfo]) -> list[exp.Expr]:
    return [exp.column(c.name, quoted=True) for c in columns]


def _scan(paths: Sequence[str]) -> exp.Expr:
    """``read_parquet([...])`` over manifest paths (never user text).

    The list is written here as DuckDB text (quotes doubled), not as one sqlglot literal a
    file: generating 10^5 literal nodes took over a second for a full scan at a billion
    rows, more than the planning of everything else.

    Examples
    --------
    >>> _scan(["/d/a.parquet", "/d/o'b.parquet"]).sql(dialect="duckdb")
    "READ_PARQUET(['/d/a.parquet', '/d/o''b.parquet'])"
    """
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return exp.Anonymous(this="read_parquet", expressions=[exp.Var(this=f"[{quoted}]")])


def _empty(columns: Sequence[ColumnInfo]) -> exp.Select:
    items = [exp.alias_(exp.cast(exp.null(), duckdb_type(c.datatype)), c.name, quoted=True)
             for c in columns]
    return exp.select(*items).where(exp.false())


def _range_predicate(ranges: Sequence[tuple[int, int]]) -> exp.Expr:
    col = exp.column(SPATIAL_INDEX_COLUMN, quoted=True)
    parts = [exp.and_(exp.GTE(this=col.copy(), expression=exp.Literal.number(lo)),
                      exp.LT(this=col.copy(), expression=exp.Literal.number(hi)), copy=False)
             for lo, hi in ranges]
    return exp.or_(*parts, copy=False) if parts else exp.false()


def relation(source: TableSource, partitions: Sequence[Partition] | None = None, *,
             ranges: Sequence[tuple[int, int]] | None = None, margins: bool = False,
             extra: Sequence[exp.Expr] = (),
             bounds: tuple[str, float, float] | None = None,
             window: tuple[str, float, float] | None = None) -> exp.Select:
    """Return a SELECT giving the rows of ``source`` visible to one task.

    Parameters
    ----------
    source
        The table.
    partitions
        The chunks to read (partitioned tables); None reads all.
    ranges
        Half-open ``_healpix_29`` ranges to keep (row-group pruning); None keeps all.
    margins
        Also read each partition's margin rows (neighbour joins).
    extra
        Additional select items (hidden join keys).
    bounds
        ``(column, low, high)``: a range the column must lie in (the declination band of
        a cone). A superset of the real condition; DuckDB prunes row groups with it and
        skips the spherical test for rows outside it.
    window
        ``(column, start, width)``: an angle the column must lie within, modulo 360 (the
        right ascensions of a cone): ``fmod(column - start + 720, 360) <= width``. Also a
        superset: a value below ``start - 720`` gives a negative remainder and is kept.
    """
    columns = [*_column_list(source.columns), *extra]
    if source.memory is not None:
        return exp.select(*columns, copy=False).from_(
            exp.to_identifier(source.memory_name, quoted=True), copy=False)
    manifest = source.manifest
    assert manifest is not None and source.published is not None
    if manifest.kind == TableKind.REGULAR:
        paths = [str(source.published.resolve(f)) for f in manifest.regular_files]
    else:
        chosen = manifest.partitions if partitions is None else partitions
        paths = source.files(chosen, margins=margins)
    if not paths:
        return _empty(source.columns)
    query = exp.select(*columns, copy=False).from_(_scan(paths), copy=False)
    if ranges is not None:
        query = query.where(_range_predicate(ranges), copy=False)
    if bounds is not None:
        name, low, high = bounds
        query = query.where(exp.Between(this=exp.column(name, quoted=True),
                                        low=exp.Literal.number(repr(low)),
                                        high=exp.Literal.number(repr(high))), copy=False)
    if window is not None:
        name, start, width = window
        offset = exp.Add(this=exp.Sub(this=exp.column(name, quoted=True),
                                      expression=exp.Literal.number(repr(start))),
                         expression=exp.Literal.number(720))
        turned = exp.Anonymous(this="fmod", expressions=[offset, exp.Literal.number(360)])
        query = query.where(exp.LTE(this=turned, expression=exp.Literal.number(repr(width))),
                            copy=False)
    return query


def relation_sql(source: TableSource, partitions: Sequence[Partition] | None = None, *,
                 ranges: Sequence[tuple[int, int]] | None = None,
                 bounds: tuple[str, float, float] | None = None,
                 window: tuple[str, float, float] | None = None) -> str:
    """The DuckDB SQL of :func:`relation` (same arguments, no ``margins`` or ``extra``),
    written as text: the text sqlglot's generator gives for that tree, at a fraction of the
    cost (generating the tree of a cone's relation was a fifth of its planning).

    Examples
    --------
    >>> src = TableSource("s.t", (ColumnInfo("id", "int64"),), memory=pa.table({"id": [1]}))
    >>> relation_sql(src) == relation(src).sql(dialect="duckdb")
    True
    """
    columns = ", ".join(_quoted(c.name) for c in source.columns)
    if source.memory is not None:
        return f"SELECT {columns} FROM {_quoted(source.memory_name)}"
    manifest = source.manifest
    assert manifest is not None and source.published is not None
    if manifest.kind == TableKind.REGULAR:
        paths = [str(source.published.resolve(f)) for f in manifest.regular_files]
    else:
        paths = source.files(manifest.partitions if partitions is None else partitions)
    if not paths:
        return _empty(source.columns).sql(dialect="duckdb")
    scan = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    conditions: list[tuple[str, bool]] = []  # (text, whether a connector: AND, OR)
    if ranges is not None:
        col = _quoted(SPATIAL_INDEX_COLUMN)
        parts = [f"{col} >= {lo} AND {col} < {hi}" for lo, hi in ranges]
        if len(parts) > 1:
            parts = [f"({part})" for part in parts]
        conditions.append((" OR ".join(parts) if parts else "FALSE", bool(parts)))
    if bounds is not None:
        name, low, high = bounds
        conditions.append((f"{_quoted(name)} BETWEEN {_number(low)} AND {_number(high)}",
                           False))
    if window is not None:
        name, start, width = window
        conditions.append((f"FMOD({_quoted(name)} - {_number(start)} + 720, 360) <= "
                           f"{_number(width)}", False))
    sql = f"SELECT {columns} FROM READ_PARQUET([{scan}])"
    if not conditions:
        return sql
    where, connector = conditions[0]
    for text, joined in conditions[1:]:
        # sqlglot's Select.where() ANDs each condition on, parenthesising connectors.
        where = f"{_paren(where, connector)} AND {_paren(text, joined)}"
        connector = True
    return f"{sql} WHERE {where}"


def _quoted(name: str) -> str:
    """A DuckDB quoted identifier, as sqlglot writes it."""
    return '"' + name.replace('"', '""') + '"'


def _number(value: float) -> str:
    """``exp.Literal.number(repr(value))`` as sqlglot writes it: a negative number is the
    negation of its magnitude read as a Decimal (``-1e+16`` is written ``-1E+16``)."""
    text = repr(value)
    try:
        parsed: int | Decimal = int(text)
    except ValueError:
        parsed = Decimal(text)
    try:
        return f"-{abs(parsed)}" if parsed < 0 else text
    except ArithmeticError:  # NaN does not compare: sqlglot keeps its text
        return text


def _paren(text: str, connector: bool) -> str:
    return f"({text})" if connector else text


def substitute_sql(table: exp.Table, sql: str) -> str:
    """The SQL of :func:`substitute` for a relation given as text."""
    return f"({sql}) AS {_quoted(table.alias or table.name)}"


def substitute(table: exp.Table, select: exp.Expr) -> exp.Expr:
    """Return the subquery replacing ``table`` in the tree (keeping its alias)."""
    alias = table.alias or table.name
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(
        alias, quoted=True)))


def bind_tables(tree: exp.Expr, bind: Callable[[exp.Table], exp.Expr]) -> exp.Expr:
    """Return a copy of ``tree`` with every table reference replaced by ``bind(table)``."""
    copy = tree.copy()
    for table in _bound_tables(copy):
        table.replace(bind(table))
    return copy


def bound_sql(tree: exp.Expr, bind: Callable[[exp.Table], exp.Expr | str]) -> str:
    """The DuckDB SQL of ``tree`` with every table reference replaced by ``bind(table)``.

    The SQL of :func:`bind_tables`, without copying the tree: the bound relations are put
    in place for the generator, then the tables are put back, so ``tree`` is left as it
    was (a task a group of chunks reuses one partial tree). Not for a tree that another
    thread reads meanwhile.

    ``bind`` may give the relation as SQL text (:func:`substitute_sql`): a placeholder
    name stands in the tree and the text replaces it in the generated SQL. Should the
    placeholder be found other than once (the query's own text holding it), the relation
    is made a tree from ``bind`` again and the whole SQL generated, so the text never
    differs from the generator's.
    """
    swapped: list[tuple[exp.Table, exp.Expr]] = []
    texts: list[tuple[str, str]] = []
    try:
        for table in _bound_tables(tree):
            bound = bind(table)
            if isinstance(bound, str):
                marker = f"{_MARKER}{len(texts)}"
                texts.append((_quoted(marker), bound))
                bound = exp.Table(this=exp.to_identifier(marker, quoted=True))
            table.replace(bound)
            swapped.append((table, bound))
        sql = tree.sql(dialect="duckdb", copy=False)
    finally:
        for table, bound in reversed(swapped):
            bound.replace(table)
    if all(sql.count(marker) == 1 for marker, _ in texts):
        for marker, text in texts:
            sql = sql.replace(marker, text, 1)
        return sql
    return bound_sql(tree, lambda table: _as_tree(table, bind(table)))


_MARKER = f"__bound_{secrets.token_hex(8)}_"
"""Names the placeholders of relations given as text (random: no query writes it)."""


def _as_tree(table: exp.Table, bound: exp.Expr | str) -> exp.Expr:
    """A relation given as text (``(SELECT ...) AS "t"``) parsed back into a tree."""
    if not isinstance(bound, str):
        return bound
    return exp.Subquery(this=sqlglot.parse_one(bound[1:bound.rindex(") AS ")], read="duckdb"),
                        alias=exp.TableAlias(this=exp.to_identifier(
                            table.alias or table.name, quoted=True)))


def _bound_tables(tree: exp.Expr) -> list[exp.Table]:
    """The table references of ``tree`` that read a table (not a CTE, not a column's)."""
    found = find_all(tree, (exp.CTE, exp.Table))  # one walk for both
    ctes = {cte.alias_or_name for cte in found if isinstance(cte, exp.CTE)}
    return [table for table in found
            if isinstance(table, exp.Table) and (table.db or table.name not in ctes)
            and not isinstance(table.parent, exp.Column | exp.Dot)]
