"""Shared fixtures: a DuckDB connection with the ADQL geometry macros installed."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from engine.adql.geometry import GEOMETRY_MACROS


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as connection:
        for macro in GEOMETRY_MACROS:
            connection.execute(macro)
        yield connection
