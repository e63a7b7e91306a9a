"""Plan an ADQL query: resolve tables, choose chunks, split into chunk tasks and a merge.

Three shapes of plan:

``chunked``
    One partitioned table (with its child table joined on the director key, and any
    regular, uploaded or TAP_SCHEMA tables) in the top SELECT: each task reads a group
    of chunks; partial results are merged (see :mod:`engine.split`).
``crossmatch``
    Two positional tables joined by a distance within the margin: each task joins the
    chunks of the first with the same chunks of the second plus their margins, on a
    declination zone key so the join is a hash join (see :mod:`engine.crossmatch`).
``single``
    Anything else (set operations, CTEs, partitioned tables inside subqueries, outer
    joins that chunks would duplicate): one task runs the whole query over the
    chosen files of every table. Always correct; slower only where chunking helps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from engine import constraints
from engine.adql.analyze import table_refs
from engine.adql.nodes import value_metadata
from engine.adql.parse import parse_adql
from engine.adql.translate import to_duckdb
from engine.bind import TableSource, relation, substitute
from engine.catalog import ColumnInfo, Partition, PublishedTable, TableKind
from engine.errors import UnknownTableError, suggest
from engine.sky.healpix import pixel_range
from engine.sky.regions import ConeRegion, Region, index_ranges, overlaps
from engine.split import has_star, name_outputs, output_name, split_select

MAX_INDEX_RANGES = 12
"""Most ``_healpix_29`` ranges put in one scan's filter; coarser ranges beyond that."""


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """Metadata of one result column (the source of a VOTable FIELD)."""

    name: str
    datatype: str = ""
    unit: str = ""
    ucd: str = ""
    description: str = ""
    xtype: str | None = None


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """One unit of work: a self-contained SQL statement over some chunks' files."""

    sql: str
    chunks: tuple[tuple[int, int], ...] = ()
    memory_tables: tuple[str, ...] = ()
    """Names of in-memory tables (uploads, TAP_SCHEMA) the SQL reads."""


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """Everything needed to run a query: tasks, merge and result metadata."""

    adql: str
    mode: str
    tasks: tuple[ChunkTask, ...]
    merge_sql: str | None
    columns: tuple[ResultColumn, ...]
    chunks_total: int = 0
    memory: Mapping[str, pa.Table] = field(default_factory=dict)
    row_limit: int | None = None
    """Rows to keep of the concatenated task results when there is no merge (TOP)."""

    def explain(self) -> str:
        """Return a readable summary: mode, chunks, the SQL of the first task and merge."""
        lines = [f"mode: {self.mode}", f"tasks: {len(self.tasks)}",
                 f"chunks: {sum(len(t.chunks) for t in self.tasks)} of {self.chunks_total}"]
        if self.tasks:
            lines.append(f"task[0]: {self.tasks[0].sql}")
        if self.merge_sql:
            lines.append(f"merge: {self.merge_sql}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """Knobs of the planner."""

    rows_per_task: int = 5_000_000
    """Chunks are grouped so that a task reads about this many rows."""
    max_tasks: int = 64


@dataclass
class _Ref:
    """A table reference of the top SELECT block."""

    node: exp.Table
    source: TableSource
    alias: str
    prunable: bool
    region: Region | None = None
    """The region the reference's own positions are restricted to."""
    id_lookups: list[tuple[PublishedTable, list[int | str]]] = field(default_factory=list)
    """Id values the reference is restricted to, each with the table whose id index maps
    them to places (the table itself, or a child's director for its director key)."""


def _key(table: exp.Table) -> tuple[str, str, str]:
    return (table.db.lower(), table.name.lower(), (table.alias or table.name).lower())


class Planner:
    """Turns ADQL into a :class:`QueryPlan` for the tables of one data directory."""

    def __init__(self, tables: Mapping[str, PublishedTable],
                 memory_tables: Mapping[str, tuple[pa.Table, tuple[ColumnInfo, ...]]],
                 id_lookup: Callable[[PublishedTable, list[int | str]], list[int] | None],
                 options: PlanOptions | None = None) -> None:
        self.tables = tables
        self.memory_tables = memory_tables
        self.id_lookup = id_lookup
        self.options = options or PlanOptions()

    # -- resolution -------------------------------------------------------------
    def _resolve(self, tree: exp.Expr,
                 uploads: Mapping[str, pa.Table]) -> dict[tuple[str, str, str], TableSource]:
        sources: dict[tuple[str, str, str], TableSource] = {}
        for table in table_refs(tree):
            name = f"{table.db}.{table.name}".lower() if table.db else table.name.lower()
            sources[_key(table)] = self._source(name, uploads)
        return sources

    def _source(self, name: str, uploads: Mapping[str, pa.Table]) -> TableSource:
        if name in self.tables:
            published = self.tables[name]
            return TableSource(name, published.manifest.columns, published=published)
        if name.startswith("tap_upload."):
            upload = {k.lower(): v for k, v in uploads.items()}.get(name.split(".", 1)[1])
            if upload is not None:
                return TableSource(name, _arrow_columns(upload.schema), memory=upload)
        if name in self.memory_tables:
            data, columns = self.memory_tables[name]
            return TableSource(name, columns, memory=data)
        known = [*self.tables, *self.memory_tables,
                 *(f"tap_upload.{k}" for k in uploads)]
        hint = suggest(name, known)
        if not hint and "." not in name:
            hint = " Table names are qualified by their schema, e.g. " + (
                f"'{next(iter(self.tables))}'." if self.tables else "'schema.table'.")
        raise UnknownTableError(f"Unknown table '{name}'.{hint}")

    # -- planning ---------------------------------------------------------------
    def plan(self, adql: str, *, maxrec: int | None = None,
             uploads: Mapping[str, pa.Table] | None = None) -> QueryPlan:
        """Return the plan for ``adql``; raises AdqlError subclasses for bad queries."""
        uploads = uploads or {}
        tree = parse_adql(adql)
        sources = self._resolve(tree, uploads)
        refs: list[_Ref] = []
        if isinstance(tree, exp.Select):
            refs = self._top_refs(tree, sources)
            _expand_stars(tree, refs)
            name_outputs(tree)
            self._constrain(tree, refs)
        columns = _result_columns(tree, refs)
        duck = to_duckdb(tree, units=_unit_lookup(tree, sources))
        _strip_schema_qualifiers(duck)
        memory = {s.memory_name: s.memory for s in sources.values() if s.memory is not None}
        partitioned = [s for s in sources.values() if s.partitioned]
        top_partitioned = [r for r in refs if r.source.partitioned]
        plan_args: dict[str, object] = {"adql": adql, "columns": columns, "memory": memory}
        if (isinstance(duck, exp.Select) and top_partitioned
                and len(partitioned) == len({id(r.source) for r in top_partitioned})
                and len(top_partitioned) == sum(1 for t in duck.find_all(exp.Table)
                                                if _key(t) in sources
                                                and sources[_key(t)].partitioned)):
            chunked = self._plan_chunked(duck, refs, sources, maxrec, plan_args)
            if chunked is not None:
                return chunked
        return self._plan_single(duck, refs, sources, maxrec, plan_args)

    def _top_refs(self, select: exp.Select,
                  sources: Mapping[tuple[str, str, str], TableSource]) -> list[_Ref]:
        """Top-level FROM tables, each marked prunable unless an outer join pads it."""
        items: list[tuple[exp.Expr, str]] = []
        from_ = select.args.get("from_")
        if from_ is not None:
            items.append((from_.this, "INNER"))
        items.extend((join.this, (join.side or "INNER").upper())
                     for join in select.args.get("joins") or [])
        refs: list[_Ref] = []
        padded: set[int] = set()
        for index, (_node, side) in enumerate(items):
            if side in ("LEFT", "FULL"):
                padded.add(index)
            if side in ("RIGHT", "FULL"):
                padded.update(range(index))
        for index, (node, _side) in enumerate(items):
            if isinstance(node, exp.Table) and _key(node) in sources:
                refs.append(_Ref(node=node, source=sources[_key(node)],
                                 alias=(node.alias or node.name).lower(),
                                 prunable=index not in padded))
        return refs

    def _constrain(self, select: exp.Select, refs: list[_Ref]) -> None:
        """Attach region and id constraints to the prunable top-level references."""
        predicates = constraints.conjuncts(select.args.get("where") and select.args["where"].this)
        for join in select.args.get("joins") or []:
            if not join.side:
                predicates += constraints.conjuncts(join.args.get("on"))
        for ref in refs:
            manifest = ref.source.manifest
            if not ref.prunable or manifest is None or not ref.source.partitioned:
                continue
            matcher = _column_matcher(ref, refs)
            if manifest.ra_column and manifest.dec_column:
                cols = constraints.PositionColumns(
                    is_ra=matcher(manifest.ra_column), is_dec=matcher(manifest.dec_column))
                ref.region = constraints.region_constraint(predicates, cols)
            for indexed, column in self._indexed_keys(ref.source):
                values = constraints.id_constraint(predicates, matcher(column))
                if values is not None:
                    ref.id_lookups.append((indexed, values))

    def _indexed_keys(self, source: TableSource) -> list[tuple[PublishedTable, str]]:
        """Columns of a table whose values an id index places: (indexed table, column).

        A table's own id is in its own index; a child's director key holds its director's
        ids, placed by the director's index (a child row lives with its director row).
        """
        manifest = source.manifest
        assert manifest is not None and source.published is not None
        keys = []
        if manifest.id_column and manifest.id_index:
            keys.append((source.published, manifest.id_column))
        director = self.tables.get(manifest.director or "")
        if (manifest.kind == TableKind.CHILD and manifest.director_key and director is not None
                and director.manifest.id_index):
            keys.append((director, manifest.director_key))
        return keys

    def _chunks_of(self, ref: _Ref) -> tuple[list[Partition], list[tuple[int, int]] | None]:
        """Return the partitions a reference must read and the index ranges to keep."""
        manifest = ref.source.manifest
        assert manifest is not None and ref.source.published is not None
        parts = list(manifest.partitions)
        ranges: list[tuple[int, int]] | None = None
        placement = _placement_region(ref)
        if placement is not None:
            order = max((p.order for p in parts), default=0)
            cov_order, pixels = placement.coverage(order)
            parts = [p for p in parts if overlaps(cov_order, pixels, p.order, p.ipix)]
            ranges = _bounded_ranges(placement)
        for indexed, ids in ref.id_lookups:
            index_values = self.id_lookup(indexed, ids)
            if index_values is None:
                continue
            wanted = set()
            for value in index_values:
                for p in parts:
                    lo, hi = pixel_range(p.order, p.ipix)
                    if lo <= value < hi:
                        wanted.add(p.chunk_id)
            parts = [p for p in parts if p.chunk_id in wanted]
            id_ranges = sorted({(v, v + 1) for v in index_values})
            ranges = id_ranges if ranges is None else _intersect_ranges(ranges, id_ranges)
        return parts, ranges

    def _groups(self, parts: Sequence[Partition]) -> list[list[Partition]]:
        total = sum(p.nrows for p in parts)
        count = max(1, min(len(parts), self.options.max_tasks,
                           math.ceil(total / max(1, self.options.rows_per_task))))
        groups: list[list[Partition]] = [[] for _ in range(count)]
        loads = [0] * count
        for part in sorted(parts, key=lambda p: -p.nrows):
            target = loads.index(min(loads))
            groups[target].append(part)
            loads[target] += max(1, part.nrows)
        return [sorted(g, key=lambda p: p.chunk_id) for g in groups if g]

    def _plan_chunked(self, duck: exp.Select, refs: list[_Ref],
                      sources: Mapping[tuple[str, str, str], TableSource],
                      maxrec: int | None, plan_args: dict[str, object]) -> QueryPlan | None:
        positional = [r for r in refs if r.source.partitioned]
        driver = positional[0]
        if driver is not refs[0] and any(
                (j.side or "").upper() in ("RIGHT", "FULL", "LEFT")
                for j in duck.args.get("joins") or []):
            return None
        if any((j.side or "").upper() in ("RIGHT", "FULL") for j in duck.args.get("joins") or []):
            return None
        partner: _Ref | None = None
        if len(positional) == 1 and len(refs) == 2 and any(
                r.source.memory is not None for r in refs):
            from engine.crossmatch import plan_crossmatch

            matched = plan_crossmatch(self, duck, refs, sources, maxrec, plan_args)
            if matched is not None:
                return matched
        if len(positional) == 2:
            partner = positional[1]
            pair = _director_pair(driver, partner)
            if pair is None:
                from engine.crossmatch import plan_crossmatch

                return plan_crossmatch(self, duck, refs, sources, maxrec, plan_args)
            if not _joined_on_key(duck, *pair):
                return None
        elif len(positional) > 2:
            return None
        parts, ranges = self._chunks_of(driver)
        if partner is not None:
            p_parts, p_ranges = self._chunks_of(partner)
            keep = {p.chunk_id for p in p_parts}
            parts = [p for p in parts if p.chunk_id in keep]
            ranges = _combine_ranges(ranges, p_ranges)
        split = split_select(duck, maxrec=maxrec)
        if split is None:
            return None
        groups = self._groups(parts) or [[]]
        tasks = []
        for group in groups:
            def bind(table: exp.Table, group: list[Partition] = group) -> exp.Expr:
                source = sources[_key(table)]
                if source.partitioned:
                    chunk_ids = {p.chunk_id for p in group}
                    own = [p for p in source.manifest.partitions  # type: ignore[union-attr]
                           if p.chunk_id in chunk_ids]
                    band = dec_band(driver) if source is driver.source else None
                    return substitute(table, relation(source, own, ranges=ranges,
                                                      bounds=band))
                return substitute(table, relation(source))

            sql = bind_tables(split.partial, bind).sql(dialect="duckdb", copy=False)
            tasks.append(ChunkTask(sql=sql, chunks=tuple(p.chunk_id for p in group),
                                   memory_tables=_memory_names(split.partial, sources)))
        merge_sql = split.merge.sql(dialect="duckdb") if split.merge is not None else None
        total = len(driver.source.manifest.partitions)  # type: ignore[union-attr]
        return QueryPlan(mode="chunked", tasks=tuple(tasks), merge_sql=merge_sql,
                         chunks_total=total, row_limit=split.row_limit,
                         **plan_args)  # type: ignore[arg-type]

    def _plan_single(self, duck: exp.Expr, refs: list[_Ref],
                     sources: Mapping[tuple[str, str, str], TableSource],
                     maxrec: int | None, plan_args: dict[str, object]) -> QueryPlan:
        # refs point into the ADQL tree; map them onto the DuckDB tree by key.
        by_key = {_key(r.node): r for r in refs if r.source.partitioned}
        chunks: list[tuple[int, int]] = []
        chosen: dict[tuple[str, str, str], tuple[list[Partition], list[tuple[int, int]] | None]]
        chosen = {k: self._chunks_of(r) for k, r in by_key.items()
                  if r.region or r.id_lookups}

        def bind(table: exp.Table) -> exp.Expr:
            source = sources[_key(table)]
            top = table.parent_select is duck
            if top and _key(table) in chosen:
                parts, ranges = chosen[_key(table)]
                chunks.extend(p.chunk_id for p in parts)
                return substitute(table, relation(source, parts, ranges=ranges,
                                                  bounds=dec_band(by_key[_key(table)])))
            return substitute(table, relation(source))

        bound = bind_tables(duck, bind)
        if maxrec is not None and isinstance(bound, exp.Query):
            bound = exp.select(exp.Star()).from_(bound.subquery("__q")).limit(maxrec + 1)
        sql = bound.sql(dialect="duckdb", copy=False)
        total = sum(len(s.manifest.partitions) for s in sources.values()
                    if s.partitioned and s.manifest is not None)
        task = ChunkTask(sql=sql, chunks=tuple(chunks), memory_tables=_memory_names(duck, sources))
        return QueryPlan(mode="single", tasks=(task,), merge_sql=None, chunks_total=total,
                         **plan_args)  # type: ignore[arg-type]


def _placement_region(ref: _Ref) -> Region | None:
    """The region holding the ``_healpix_29`` of every row of ``ref`` its region admits.

    A positional table is placed by its own positions. A child is placed with its director
    rows, up to ``director_offset_arcsec`` away from its own positions: its region is grown
    by that much (and gives no pruning when the offset is unknown).
    """
    manifest = ref.source.manifest
    if ref.region is None or manifest is None or manifest.kind != TableKind.CHILD:
        return ref.region
    if manifest.director_offset_arcsec is None:
        return None
    return ref.region.expanded(manifest.director_offset_arcsec / 3600.0)


def dec_band(ref: _Ref) -> tuple[str, float, float] | None:
    """The declination band of a cone constraining ``ref``, widened by a hair (or None)."""
    manifest = ref.source.manifest
    region = ref.region
    if manifest is None or not manifest.dec_column or not isinstance(region, ConeRegion):
        return None
    slack = 1e-9
    return (manifest.dec_column, region.dec_deg - region.radius_deg - slack,
            region.dec_deg + region.radius_deg + slack)


def bind_tables(tree: exp.Expr,
                bind: Callable[[exp.Table], exp.Expr]) -> exp.Expr:
    """Return a copy of ``tree`` with every table reference replaced by ``bind(table)``."""
    copy = tree.copy()
    ctes = {cte.alias_or_name for cte in copy.find_all(exp.CTE)}
    for table in list(copy.find_all(exp.Table)):
        if not table.db and table.name in ctes:
            continue
        if isinstance(table.parent, exp.Column | exp.Dot):
            continue
        table.replace(bind(table))
    return copy


def _memory_names(tree: exp.Expr,
                  sources: Mapping[tuple[str, str, str], TableSource]) -> tuple[str, ...]:
    names = {sources[_key(t)].memory_name for t in tree.find_all(exp.Table)
             if _key(t) in sources and sources[_key(t)].memory is not None}
    return tuple(sorted(names))


def _bounded_ranges(region: Region) -> list[tuple[int, int]]:
    for order in range(18, -1, -2):
        ranges = index_ranges(region, order)
        if len(ranges) <= MAX_INDEX_RANGES:
            return ranges
    return index_ranges(region, 0)


def _intersect_ranges(a: list[tuple[int, int]],
                      b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def _combine_ranges(a: list[tuple[int, int]] | None,
                    b: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
    if a is None:
        return b
    if b is None:
        return a
    return _intersect_ranges(a, b)


def _column_matcher(ref: _Ref, refs: list[_Ref]) -> Callable[[str], constraints.ColumnMatcher]:
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


def _director_pair(a: _Ref, b: _Ref) -> tuple[_Ref, _Ref] | None:
    """Return (director, child) when one is the other's child with aligned chunks."""
    for director, child in ((a, b), (b, a)):
        dm, cm = director.source.manifest, child.source.manifest
        if dm is None or cm is None or cm.kind != TableKind.CHILD:
            continue
        if cm.director != dm.name or not dm.id_column or not cm.director_key:
            continue
        if {p.chunk_id for p in cm.partitions} <= {p.chunk_id for p in dm.partitions}:
            return director, child
    return None


def _joined_on_key(select: exp.Select, director: _Ref, child: _Ref) -> bool:
    """Whether the director's id equals the child's key in an ON or WHERE conjunct."""
    dm, cm = director.source.manifest, child.source.manifest
    assert dm is not None and cm is not None
    preds = constraints.conjuncts(select.args.get("where") and select.args["where"].this)
    for join in select.args.get("joins") or []:
        preds += constraints.conjuncts(join.args.get("on"))
        using = join.args.get("using") or []
        if any(u.name.lower() == (cm.director_key or "").lower() == (dm.id_column or "").lower()
               for u in using):
            return True

    def is_col(node: exp.Expr, ref: _Ref, name: str) -> bool:
        return (isinstance(node, exp.Column) and node.name.lower() == name.lower()
                and node.table.lower() in (ref.alias, ""))

    for pred in preds:
        if isinstance(pred, exp.EQ):
            left, right = pred.this, pred.expression
            for x, y in ((left, right), (right, left)):
                if is_col(x, director, dm.id_column or "") and is_col(
                        y, child, cm.director_key or ""):
                    return True
    return False


def _expand_stars(select: exp.Select, refs: list[_Ref]) -> None:
    """Replace ``*`` and ``t.*`` in the top select list by the tables' columns (in place)."""
    if not has_star(select):
        return
    joins = select.args.get("joins") or []
    if any(j.args.get("using") or j.args.get("method") == "NATURAL" or
           (j.kind or "").upper() == "NATURAL" for j in joins):
        return
    n_items = 1 + len(joins)
    if len(refs) != n_items:
        return
    items: list[exp.Expr] = []
    for item in select.expressions:
        if isinstance(item, exp.Star):
            targets = refs
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            targets = [r for r in refs if r.alias == item.table.lower()]
        else:
            items.append(item)
            continue
        items.extend(exp.column(col.name, table=ref.node.alias or ref.node.name, quoted=True)
                     for ref in targets for col in ref.source.columns)
    select.set("expressions", items)


def _result_columns(tree: exp.Expr, refs: list[_Ref]) -> tuple[ResultColumn, ...]:
    if not isinstance(tree, exp.Select) or has_star(tree):
        return ()
    out = []
    for index, item in enumerate(tree.expressions):
        name = output_name(item, index)
        body = item.this if isinstance(item, exp.Alias) else item
        info = _column_info(body, refs) if isinstance(body, exp.Column) else None
        if info is not None:
            out.append(ResultColumn(name=name, datatype=info.datatype, unit=info.unit,
                                    ucd=info.ucd, description=info.description))
        else:
            meta = value_metadata(body)
            out.append(ResultColumn(name=name, unit=meta.unit, ucd=meta.ucd, xtype=meta.xtype))
    return tuple(out)


def _column_info(col: exp.Column, refs: list[_Ref]) -> ColumnInfo | None:
    for ref in refs:
        if col.table and col.table.lower() != ref.alias:
            continue
        for info in ref.source.columns:
            if info.name.lower() == col.name.lower():
                return info
    return None


def _unit_lookup(tree: exp.Expr, sources: Mapping[tuple[str, str, str], TableSource]
                 ) -> Callable[[exp.Column], str | None]:
    aliases: dict[str, TableSource] = {}
    for table in tree.find_all(exp.Table):
        if _key(table) in sources:
            aliases[(table.alias or table.name).lower()] = sources[_key(table)]

    def unit(col: exp.Column) -> str | None:
        candidates = [aliases[col.table.lower()]] if col.table.lower() in aliases else list(
            aliases.values())
        for source in candidates:
            for info in source.columns:
                if info.name.lower() == col.name.lower() and info.unit:
                    return info.unit
        return None

    return unit


def _strip_schema_qualifiers(tree: exp.Expr) -> None:
    """``schema.table.col`` -> ``table.col`` (bindings alias tables by their bare name)."""
    for col in tree.find_all(exp.Column):
        if col.args.get("db"):
            col.set("db", None)
        if col.args.get("catalog"):
            col.set("catalog", None)


def _arrow_columns(schema: pa.Schema) -> tuple[ColumnInfo, ...]:
    out = []
    for f in schema:
        meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        out.append(ColumnInfo(name=f.name, datatype=str(f.type), unit=meta.get("unit", ""),
                              ucd=meta.get("ucd", ""), description=meta.get("description", "")))
    return tuple(out)


def data_dirs(tables: Mapping[str, PublishedTable]) -> list[Path]:
    """Return every directory a query may need to read (for the DuckDB allow-list)."""
    dirs: set[Path] = set()
    for table in tables.values():
        dirs.add(table.root)
        m = table.manifest
        for p in m.partitions:
            path = Path(p.path)
            if path.is_absolute():
                dirs.add(path.parent.parent.parent)
    return sorted(dirs)

