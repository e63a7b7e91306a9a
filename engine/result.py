"""A query's result: the authoritative result schema and the stream of its rows.

The schema (column names, Arrow types, unit, UCD, description, xtype) is made here,
once, for every consumer: the TAP service's formats and the embedded client read it
and never re-derive a column's type.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.catalog import ColumnInfo
from engine.errors import EngineError
from engine.execute.base import QueryProgress
from engine.plan import QueryPlan, ResultColumn

__all__ = ["GEOMETRY_TYPES", "QueryResult", "column_infos", "result_schema"]


class QueryResult:
    """A running query's result: column metadata now, rows as a stream of batches.

    ``progress`` counts the chunks done of the chunks the query reads, and the rows read
    so far; it may be read from any thread while another one reads the rows.
    """

    def __init__(self, plan: QueryPlan, batches: Iterator[pa.RecordBatch], *,
                 maxrec: int | None, cancel: threading.Event,
                 progress: QueryProgress | None = None) -> None:
        self.plan = plan
        self.progress = progress or QueryProgress(plan.tasks)
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
            self._schema = result_schema(raw, self.plan.columns)
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
                        self.progress.add_rows(keep)
                        yield _cast(batch.slice(0, keep), schema)
                    return
                self.rows += batch.num_rows
                self.progress.add_rows(batch.num_rows)
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
    """Decimals become what VOTable has: int64 when integral (DuckDB's HUGEINT sums and
    counts), double otherwise (DuckDB types a literal such as ``0.5`` DECIMAL(2,1))."""
    if pa.types.is_decimal(dtype):
        return pa.int64() if dtype.scale == 0 else pa.float64()
    return dtype


GEOMETRY_TYPES: dict[str, pa.DataType] = {
    "point": pa.list_(pa.float64(), 2),
    "circle": pa.list_(pa.float64(), 3),
    "polygon": pa.list_(pa.float64()),
}
"""The Arrow type of each DALI geometry xtype, in ICRS degrees.

A point (``[ra, dec]``) and a circle (``[ra, dec, radius]``) hold a fixed number of
doubles: a fixed-size list, which every format writes as a fixed array (VOTable
``arraysize="2"``/``"3"``, no length before the values in BINARY2). A polygon holds
any even number of them: a variable list (``arraysize="*"``, a length first)."""


def _is_list(dtype: pa.DataType) -> bool:
    return (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)
            or pa.types.is_fixed_size_list(dtype))


def _xtype(field: pa.Field) -> str:
    raw = (field.metadata or {}).get(b"xtype")
    return raw.decode() if raw else ""


def _declared_type(col: ResultColumn) -> pa.DataType:
    """A column's type from the plan alone (for a result that brought no schema)."""
    if col.xtype in GEOMETRY_TYPES:
        return GEOMETRY_TYPES[col.xtype]
    try:
        return _plain_type(pa.type_for_alias(col.datatype))
    except (ValueError, KeyError):
        return pa.string()


def result_schema(raw: pa.Schema, columns: tuple[ResultColumn, ...]) -> pa.Schema:
    """Return the result schema every format writes: types, unit, ucd, description, xtype.

    Parameters
    ----------
    raw
        The schema of the batches DuckDB produced (empty when no batch came back).
    columns
        The plan's metadata of the result columns, in order.

    Geometry columns get their DALI type from :data:`GEOMETRY_TYPES`, so the declared
    array size and the bytes written always agree.

    Examples
    --------
    >>> raw = pa.schema([("p", pa.list_(pa.float64())), ("ra", pa.float64())])
    >>> schema = result_schema(raw, (ResultColumn("p", unit="deg", xtype="point"),
    ...                              ResultColumn("ra", unit="deg")))
    >>> schema.field("p").type
    FixedSizeListType(fixed_size_list<item: double>[2])
    >>> schema.field("p").metadata[b"xtype"], schema.field("ra").metadata[b"unit"]
    (b'point', b'deg')

    A result that brought no schema (no batch at all) still declares its columns:

    >>> empty = result_schema(pa.schema([]), (ResultColumn("c", xtype="circle"),
    ...                                       ResultColumn("n", datatype="int64")))
    >>> [str(f.type) for f in empty]
    ['fixed_size_list<item: double>[3]', 'int64']
    """
    if not len(raw) and columns:
        raw = pa.schema([pa.field(c.name, _declared_type(c)) for c in columns])
    fields = []
    for index, f in enumerate(raw):
        meta: dict[str, str] = {}
        if index < len(columns) and columns[index].name.lower() == f.name.lower():
            col = columns[index]
            meta = {k: v for k, v in (("unit", col.unit), ("ucd", col.ucd),
                                      ("description", col.description),
                                      ("xtype", col.xtype or "")) if v}
        dtype = _plain_type(f.type)
        xtype = meta.get("xtype")
        if xtype in GEOMETRY_TYPES and _is_list(dtype):
            dtype = GEOMETRY_TYPES[xtype]
        if not xtype and pa.types.is_timestamp(dtype):
            meta["xtype"] = "timestamp"
        fields.append(pa.field(f.name, dtype, f.nullable, metadata=meta))
    return pa.schema(fields)


def _null_if_incomplete(arr: pa.Array) -> pa.Array:
    """A geometry with a NULL coordinate (``POINT(NULL, dec)``) is itself NULL."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    values = pc.list_flatten(arr)
    if not values.null_count:
        return arr
    parents = np.asarray(pc.list_parent_indices(arr))
    incomplete = np.zeros(len(arr), dtype=bool)
    incomplete[parents[np.asarray(values.is_null())]] = True
    return pc.if_else(pa.array(incomplete), pa.nulls(len(arr), arr.type), arr)


def _cast(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Return ``batch`` with the result schema (types converted, geometry values checked)."""
    arrays = []
    for arr, field in zip(batch.columns, schema, strict=True):
        if _xtype(field) in GEOMETRY_TYPES and _is_list(arr.type):
            arr = _null_if_incomplete(arr)
        arrays.append(arr if arr.type == field.type else arr.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def column_infos(result: QueryResult) -> tuple[ColumnInfo, ...]:
    """Return result columns as catalog ColumnInfo (for writing results back as tables)."""
    return tuple(ColumnInfo(name=c.name, datatype=c.datatype, unit=c.unit, ucd=c.ucd,
                            description=c.description) for c in result.columns)


