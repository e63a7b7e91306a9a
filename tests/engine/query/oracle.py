"""Brute-force oracle for the engine: the same ADQL on the unsharded Parquet files in DuckDB.

Results are compared as multisets of rows (floats within a relative tolerance, NULL and NaN
equal to themselves), or row by row when the query's ORDER BY fixes the order.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from engine.adql.geometry import GEOMETRY_MACROS
from engine.adql.parse import parse_adql
from engine.adql.translate import to_duckdb
from engine.planning.split import name_outputs

REL_TOL = 1e-9
ABS_TOL = 1e-9

Row = tuple[Any, ...]


def open_oracle(tables: Mapping[str, Path]) -> duckdb.DuckDBPyConnection:
    """Return a DuckDB with one view per ``schema.table`` over its raw Parquet file."""
    con = duckdb.connect()
    for macro in GEOMETRY_MACROS:
        con.execute(macro)
    for name, path in tables.items():
        schema, table = name.split(".")
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.execute(f"CREATE VIEW \"{schema}\".\"{table}\" AS SELECT * FROM read_parquet('{path}')")
    return con


def oracle_sql(adql: str) -> str:
    """The DuckDB SQL the oracle runs for ``adql`` (no sharding, no rewrites).

    Unaliased select items get the engine's output names, the one convention shared.
    """
    tree = parse_adql(adql)
    if isinstance(tree, exp.Select):
        name_outputs(tree)
    return to_duckdb(tree).sql("duckdb")


def run_oracle(con: duckdb.DuckDBPyConnection, adql: str) -> tuple[list[str], list[Row]]:
    """Run ``adql`` on the unsharded tables; return column names and rows."""
    table = con.sql(oracle_sql(adql)).to_arrow_table()
    return rows_of(table)


def rows_of(table: pa.Table) -> tuple[list[str], list[Row]]:
    """Column names and rows (tuples of plain Python values) of an Arrow table."""
    names = list(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return names, [tuple(_plain(v) for v in row) for row in zip(*columns, strict=True)]


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _sort_key(row: Row) -> tuple[Any, ...]:
    key = []
    for v in row:
        if v is None:
            key.append((0, 0))
        elif isinstance(v, float):
            key.append((2, 0.0) if math.isnan(v) else (1, float(f"{v:.6g}")))
        elif isinstance(v, bool | int):
            key.append((1, float(v)))
        else:
            key.append((3, str(v)))
    return tuple(key)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            return False
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return bool(a == b)


def _first_difference(got: Sequence[Row], want: Sequence[Row]) -> str | None:
    if len(got) != len(want):
        extra = sorted(set(map(repr, got)) - set(map(repr, want)))[:5]
        missing = sorted(set(map(repr, want)) - set(map(repr, got)))[:5]
        return (f"{len(got)} rows, expected {len(want)}; unexpected {extra}; "
                f"missing {missing}")
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        if len(g) != len(w) or not all(_same(x, y) for x, y in zip(g, w, strict=True)):
            return f"row {index}: got {g!r}, expected {w!r}"
    return None


def assert_same_result(got: tuple[list[str], list[Row]], want: tuple[list[str], list[Row]],
                       *, ordered: bool = False) -> None:
    """Assert equal column names and rows (as multisets unless ``ordered``)."""
    got_names, got_rows = got
    want_names, want_rows = want
    assert [n.lower() for n in got_names] == [n.lower() for n in want_names], (
        f"columns {got_names} != {want_names}")
    if not ordered:
        got_rows = sorted(got_rows, key=_sort_key)
        want_rows = sorted(want_rows, key=_sort_key)
    difference = _first_difference(got_rows, want_rows)
    assert difference is None, difference
