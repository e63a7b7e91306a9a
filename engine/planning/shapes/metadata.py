"""The ``metadata`` shape: ``SELECT COUNT(*) FROM t`` answered from row counts, not by a scan.

A table's row count is known without reading a row: a published table's manifest records
it (the sum of its partitions' rows as the ingest wrote them, or, for an attached HATS
catalog, as the Parquet footers give them, which Parquet keeps exact), and an in-memory
table (TAP_SCHEMA, an upload) is at hand. So a query made only of
``COUNT(*)`` over one table, with no WHERE, join, GROUP BY, HAVING, DISTINCT or ORDER BY,
runs as one task selecting that number as a constant: the time is the same at a thousand
rows and at a billion. TOP and OFFSET stay on the constant query (TOP 0 gives no row).

Nothing with a condition is answered here: a WHERE, even on the position only, needs the
rows it keeps.
"""

from __future__ import annotations

from sqlglot import exp

from engine.plan import ChunkTask, QueryPlan
from engine.planning.analysis import Analysis
from engine.planning.bind import TableSource
from engine.planning.resolve import table_key
from engine.planning.split import output_name

_CLAUSES = ("where", "group", "having", "order", "joins", "distinct", "qualify", "windows",
            "with_", "laterals", "pivots", "connect", "match")
"""Clauses of a SELECT any of which makes the count depend on the rows."""


def plan_metadata(analysis: Analysis) -> QueryPlan | str:
    """Return a plan reading no data file, or why the query needs its rows."""
    duck = analysis.duck
    if not isinstance(duck, exp.Select):
        return "not one SELECT"
    present = [c for c in _CLAUSES if duck.args.get(c)]
    if present:
        return f"it has {present[0].rstrip('_').upper()}"
    from_ = duck.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table):
        return "it does not read one table"
    source = analysis.sources.get(table_key(from_.this))
    if source is None:
        return "it does not read one table"
    for part in ("limit", "offset"):
        node = duck.args.get(part)
        if node is not None and not _is_int_literal(node.expression):
            return f"its {part.upper()} is not a number"
    items = []
    count = row_count(source)
    for index, item in enumerate(duck.expressions):
        body = item.this if isinstance(item, exp.Alias) else item
        if not (isinstance(body, exp.Count) and isinstance(body.this, exp.Star)):
            return "it selects more than COUNT(*)"
        value = exp.cast(exp.Literal.number(count), exp.DataType.build("BIGINT"))
        items.append(exp.alias_(value, output_name(item, index), quoted=True))
    if count is None or not items:
        return "the table's row count is not recorded"
    constant = exp.select(*items)
    for part in ("limit", "offset"):
        if duck.args.get(part) is not None:
            constant.set(part, duck.args[part].copy())
    manifest = source.manifest
    total = len(manifest.partitions) if manifest is not None else 0
    return analysis.plan(mode="metadata", tasks=(ChunkTask(sql=constant.sql(dialect="duckdb")),),
                         merge_sql=None, chunks_total=total)


def row_count(source: TableSource) -> int | None:
    """The rows of a table, from its metadata (None when not recorded)."""
    if source.memory is not None:
        return source.memory.num_rows
    manifest = source.manifest
    if manifest is None:
        return None
    # ``nrows`` is the sum of the partitions' rows (checked by the tests), read in O(1):
    # summing 10^5 partitions in Python would take milliseconds at a billion rows.
    return manifest.nrows


def _is_int_literal(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit()
