"""Id lookups that read only the row groups of the id index that can hold the ids.

A table's ``id_index.parquet`` is sorted by id in row groups of 32,768 rows (262,144 in
indexes written before 2026-11-28; both are read alike). At a billion rows that is ~30,500
row groups and a footer of ~7 MB: reading it for every lookup (as a ``read_parquet`` query
does) would cost far more than the lookup. Here each index's footer and its row groups' first
ids are read once and kept (~8 us of CPU a row group, ~0.25 s at 1e9, once per process), so
a lookup costs a bisection per id and, per distinct row group, a read of its pages up to the
largest id wanted there. Measured on a 20M-row index (CPU per lookup, loaded machine): 2.55
ms with 262,144-row groups, 1.68 ms with 65,536, 1.16 ms with 32,768, 1.06 ms with 16,384.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.sky.healpix import SPATIAL_INDEX_COLUMN

MAX_ROWS = 1 << 24
"""A lookup whose ids lie in row groups holding more index rows than this (16,777,216: 512
groups of 32,768 rows, or 64 of 262,144) returns None: the caller then reads the index with
one streaming query instead."""


BATCH_ROWS = 16_384
"""Index rows decoded at a time while looking for ids in one row group."""


@dataclass(frozen=True, slots=True)
class _Ranges:
    """An index's footer and each row group's smallest and largest id."""

    metadata: pq.FileMetaData
    kind: type
    firsts: list[Any]
    lasts: list[Any]
    rows: list[int]


@functools.lru_cache(maxsize=64)
def _ranges(path: str, id_column: str) -> _Ranges | None:
    """Read the footer of the index at ``path`` (published files never change)."""
    metadata = pq.read_metadata(path)
    field = metadata.schema.to_arrow_schema().field(id_column)
    if pa.types.is_integer(field.type):
        kind: type = int
    elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
        kind = str
    else:
        return None
    column = metadata.schema.names.index(id_column)
    firsts, lasts, rows = [], [], []
    for g in range(metadata.num_row_groups):
        stats = metadata.row_group(g).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        firsts.append(stats.min)
        lasts.append(stats.max)
        rows.append(metadata.row_group(g).num_rows)
    if any(b < a for a, b in zip(lasts, firsts[1:], strict=False)):
        return None  # not sorted by id: bisection would miss rows
    return _Ranges(metadata, kind, firsts, lasts, rows)


def lookup(path: str, id_column: str, ids: list[int | str]) -> list[int] | None:
    """Return the sorted ``_healpix_29`` values of the rows whose id is in ``ids``.

    None when this cannot answer (ids of another type than the index's, an index without
    row-group statistics, or ids spread over row groups of more than :data:`MAX_ROWS` rows).

    >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "id_index.parquet")
    >>> pq.write_table(pa.table({"id": [1, 5, 9], "_healpix_29": [30, 10, 20]}), path,
    ...                row_group_size=2)
    >>> lookup(path, "id", [9, 1, 4])
    [20, 30]
    >>> lookup(path, "id", ["9"]) is None
    True
    """
    ranges = _ranges(path, id_column)
    if ranges is None or not all(type(i) is ranges.kind for i in ids):
        return None
    groups = set()
    for value in ids:
        g = bisect.bisect_right(ranges.firsts, value) - 1
        if g >= 0 and value <= ranges.lasts[g]:
            groups.add(g)
    if sum(ranges.rows[g] for g in groups) > MAX_ROWS:
        return None
    if not groups:
        return []
    file = pq.ParquetFile(path, metadata=ranges.metadata)
    wanted = pa.array(ids, file.schema_arrow.field(id_column).type)
    found: set[int] = set()
    for g in sorted(groups):
        found.update(_matches(file, g, id_column, wanted,
                              max(i for i in ids if ranges.firsts[g] <= i <= ranges.lasts[g])))
    return sorted(found)


def _matches(file: pq.ParquetFile, group: int, id_column: str, wanted: pa.Array,
             last: Any) -> list[int]:
    """The ``_healpix_29`` of the rows of one row group whose id is in ``wanted``.

    The index is sorted by id, so the read stops at the batch reaching ``last`` (the
    largest id wanted here): on average half of the row group's pages are decoded, not
    all of them (the ``_healpix_29`` column is most of the index's bytes).
    """
    found: list[int] = []
    for batch in file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group],
                                   columns=[id_column, SPATIAL_INDEX_COLUMN], use_threads=False):
        ids = batch.column(0)
        found.extend(batch.column(1).filter(pc.is_in(ids, value_set=wanted)).to_pylist())
        tail = ids[len(ids) - 1].as_py() if len(ids) else None
        if tail is not None and tail >= last:
            break
    return found
