"""Arrow tables to astropy Tables and back, keeping units, UCDs and descriptions.

Shared by the embedded mode (engine results are Arrow) and the remote one (VOParquet
results are read with pyarrow: astropy's own ``parquet.votable`` reader cannot stack
variable-length text columns).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from astropy.table import Column, Table
    from astropy.units import UnitBase

__all__ = ["arrow_to_astropy", "astropy_to_arrow"]


def arrow_to_astropy(table: pa.Table) -> Table:
    """Return an astropy Table with units, and UCDs/descriptions in each column's meta."""
    from astropy.table import Table

    columns = []
    for field, chunked in zip(table.schema, table.columns, strict=True):
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        columns.append(_owned(_described(_astropy_column(field.name, chunked), meta)))
    # Each column already holds arrays of its own (writable): the Table copies nothing more.
    return Table(columns, copy=False) if columns else Table()


def _owned(column: Column) -> Column:
    """``column``, or a copy of it where its values are a read-only view of Arrow's memory."""
    return column if np.asarray(column).flags.writeable else column.copy()


def _astropy_column(name: str, chunked: pa.ChunkedArray) -> Column:
    from astropy.table import Column, MaskedColumn

    if chunked.num_chunks and not chunked.null_count and (
            pa.types.is_integer(chunked.type) or pa.types.is_floating(chunked.type)):
        # Numbers without nulls: all chunks copied once, into an array the column keeps.
        # (Combining the chunks, then copying into the Table, copied them twice: ~1 ms of a
        # 1 deg cone's 163k rows at 1e9.)
        return Column(np.concatenate([c.to_numpy() for c in chunked.chunks]), name=name,
                      copy=False)
    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    if pa.types.is_fixed_size_list(array.type):
        # A point or circle: one row of doubles per value, as a VOTable reader gives.
        size = array.type.list_size
        filled = array.fill_null(pa.scalar([None] * size, array.type)) if array.null_count \
            else array
        flat = pc.list_flatten(filled).cast(pa.float64()).fill_null(np.nan)
        rows = np.asarray(flat.to_numpy(zero_copy_only=False)).reshape(len(array), size)
        null = np.asarray(array.is_null().to_numpy(zero_copy_only=False))
        return MaskedColumn(rows, name=name, mask=np.repeat(null[:, None], size, axis=1))
    if (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)) and (
            pa.types.is_floating(array.type.value_type)
            or pa.types.is_integer(array.type.value_type)):
        # A polygon: one masked array per row, as a VOTable reader gives (and writes).
        dtype = array.type.value_type.to_pandas_dtype()
        cells = np.empty(len(array), dtype=object)
        for index, value in enumerate(array.to_pylist()):
            items = value or []
            cells[index] = np.ma.array([0 if x is None else x for x in items], dtype=dtype,
                                       mask=[x is None for x in items])
        null = np.asarray(array.is_null().to_numpy(zero_copy_only=False))
        return MaskedColumn(cells, name=name, mask=null)
    if array.null_count and (pa.types.is_integer(array.type) or pa.types.is_boolean(array.type)):
        # pyarrow gives integers with nulls as float64, which rounds ids above 2**53 (a Gaia
        # source_id came back 256 off): fill the nulls, keep the dtype, mask them instead.
        filled = array.fill_null(pa.scalar(0 if pa.types.is_integer(array.type) else False,
                                           array.type))
        mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False))
        return MaskedColumn(np.asarray(filled.to_numpy(zero_copy_only=False)), name=name,
                            mask=mask)
    values = np.asarray(array.to_numpy(zero_copy_only=False))
    if (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) \
            and not array.null_count:
        values = values.astype(str)  # a str column, as a VOTable char field would be
    if array.null_count:
        mask = np.asarray(array.is_null().to_numpy(zero_copy_only=False))
        if values.dtype.kind == "f":
            values = np.where(mask, np.nan, values)
        return MaskedColumn(values, name=name, mask=mask)
    return Column(values, name=name)


def _described(column: Column, meta: Mapping[str, str]) -> Column:
    """``column`` with a result field's unit, description, UCD and xtype."""
    if meta.get("unit"):
        column.unit = _unit(meta["unit"])
    column.description = meta.get("description") or None
    column.meta.update({k: v for k, v in meta.items() if k in ("ucd", "xtype") and v})
    if column.unit == _degree() and column.dtype.kind == "f" and column.ndim == 1:
        # Shown to 0.4 mas instead of float64's 17 digits; the values are unchanged. Given
        # to the constructor (a view, not a copy): the ``format`` setter formats the column
        # to check the format, which cost more than the rest of a one-row conversion.
        return column.__class__(column, format=".7f", copy=False)
    return column


@functools.lru_cache(maxsize=256)
def _unit(text: str) -> UnitBase:
    """The astropy unit of a unit string (parsed once: a parse costs ~0.1 ms a column)."""
    from astropy import units as u

    return u.Unit(text, parse_strict="silent")


@functools.lru_cache(maxsize=1)
def _degree() -> UnitBase:
    from astropy import units as u

    return u.deg


def astropy_to_arrow(table: Table) -> pa.Table:
    """Return an uploaded astropy Table as Arrow (masked values become nulls, units kept)."""
    arrays, fields = [], []
    for name in table.colnames:
        col = table[name]
        data = np.asarray(col)
        mask = np.asarray(col.mask) if getattr(col, "mask", None) is not None else None
        if data.dtype.kind in "OSU":
            array = pa.array([None if v is None else str(v) for v in data.tolist()],
                             pa.string(), mask=mask)
        else:
            array = pa.array(data, mask=mask if mask is not None and mask.any() else None)
        unit = getattr(col, "unit", None)
        meta = {"unit": str(unit)} if unit is not None else None
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=meta))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
