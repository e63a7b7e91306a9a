"""A query's result: the authoritative result schema and the stream of its rows.

The schema (column names, Arrow types, unit, UCD, description, xtype) is made here,
once, for every consumer: the TAP service's formats and the embedded client read it
and never re-derive a column's type.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pyarrow as pa

from engine.catalog import ColumnInfo
from engine.errors import EngineError
from engine.plan import QueryPlan, ResultColumn

__all__ = ["QueryResult", "column_infos"]


class QueryResult:
    """A running query's result: column metadata now, rows as a stream of batches."""

    def __init__(self, plan: QueryPlan, batches: Iterator[pa.RecordBatch], *,
                 maxrec: int | None, cancel: threading.Event) -> None:
        self.plan = plan
        self._batches = batches
        self._maxrec = maxrec
        self._cancel = cancel
        self._first: pa.RecordBatch | None = None
        self._schema: pa.Schema | None = None
        self.overflow = False
        """True once the rows have been read and MAXREC cut them short."""
        self.rows = 0
        self._started = False

    def _peek_schema(self) -> pa.Schema:
        if self._schema is None:
            try:
                self._first = next(self._batches)
                raw = self._first.schema
                while self._first.num_rows == 0:
                    # Keep the schema of an empty batch, look for rows after it.
                    try:
                        self._first = next(self._batches)
                    except StopIteration:
                        break
            except StopIteration:
                self._first = None
                raw = getattr(self._batches, "schema", None) or pa.schema([])
            self._schema = _with_metadata(raw, self.plan.columns)
        return self._schema

    @property
    def schema(self) -> pa.Schema:
        """Arrow schema; each field's metadata holds unit, ucd, description and xtype."""
        return self._peek_schema()

    @property
    def columns(self) -> tuple[ResultColumn, ...]:
        """Per-column metadata in result order."""
        out = []
        for f in self.schema:
            meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
            out.append(ResultColumn(name=f.name, datatype=str(f.type), unit=meta.get("unit", ""),
                                    ucd=meta.get("ucd", ""),
                                    description=meta.get("description", ""),
                                    xtype=meta.get("xtype") or None))
        return tuple(out)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the rows (at most MAXREC) as record batches with the metadata schema."""
        if self._started:
            raise EngineError("The result has already been read.")
        self._started = True
        schema = self._peek_schema()
        pending = [self._first] if self._first is not None else []
        try:
            for batch in _chain(pending, self._batches):
                if self._maxrec is not None and self.rows + batch.num_rows > self._maxrec:
                    keep = self._maxrec - self.rows
                    self.overflow = True
                    if keep > 0:
                        self.rows += keep
                        yield _cast(batch.slice(0, keep), schema)
                    return
                self.rows += batch.num_rows
                yield _cast(batch, schema)
        finally:
            self._cancel.set()
            close = getattr(self._batches, "close", None)
            if close is not None:
                close()

    def to_table(self) -> pa.Table:
        """Read every row into one Arrow table."""
        schema = self.schema
        return pa.Table.from_batches(list(self.batches()), schema=schema)

    def cancel(self) -> None:
        """Stop the query's tasks."""
        self._cancel.set()


def _chain(first: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]
           ) -> Iterator[pa.RecordBatch]:
    yield from first
    yield from rest


def _plain_type(dtype: pa.DataType) -> pa.DataType:
    """Integral decimals (DuckDB's HUGEINT sums and counts) become int64, as TAP expects."""
    if pa.types.is_decimal(dtype) and dtype.scale == 0:
        return pa.int64()
    return dtype


def _cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    return batch.cast(schema)


def _with_metadata(schema: pa.Schema, columns: tuple[ResultColumn, ...]) -> pa.Schema:
    fields = []
    for index, f in enumerate(schema):
        meta: dict[str, str] = {}
        if index < len(columns) and columns[index].name.lower() == f.name.lower():
            col = columns[index]
            meta = {k: v for k, v in (("unit", col.unit), ("ucd", col.ucd),
                                      ("description", col.description),
                                      ("xtype", col.xtype or "")) if v}
        if not meta.get("xtype") and pa.types.is_timestamp(f.type):
            meta["xtype"] = "timestamp"
        fields.append(pa.field(f.name, _plain_type(f.type), f.nullable, metadata=meta))
    return pa.schema(fields)


def column_infos(result: QueryResult) -> tuple[ColumnInfo, ...]:
    """Return result columns as catalog ColumnInfo (for writing results back as tables)."""
    return tuple(ColumnInfo(name=c.name, datatype=c.datatype, unit=c.unit, ucd=c.ucd,
                            description=c.description) for c in result.columns)


