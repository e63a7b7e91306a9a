"""Differential tests: every query on the sharded engine equals the query on the raw files."""

from __future__ import annotations

import duckdb
import pytest

from engine.api import Engine

from .cases import CLUSTER, EMPTY, Case, all_cases
from .oracle import assert_same_result, rows_of, run_oracle

CASES = all_cases()


def _check(engine: Engine, oracle: duckdb.DuckDBPyConnection, case: Case) -> None:
    got = rows_of(engine.query(case.adql).to_table())
    want = run_oracle(oracle, case.adql)
    assert_same_result(got, want, ordered=case.ordered)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_query_matches_unsharded_oracle(engine: Engine, oracle: duckdb.DuckDBPyConnection,
                                        case: Case) -> None:
    _check(engine, oracle, case)


# Default options make one task of most queries here, which then runs the query itself
# (no partials, no merge): a third of the cases check that path too.
DEFAULT_SAMPLE = [c for i, c in enumerate(CASES) if i % 3 == 0]


@pytest.mark.parametrize("case", DEFAULT_SAMPLE, ids=[c.id for c in DEFAULT_SAMPLE])
def test_query_with_default_options_matches_oracle(
        default_engine: Engine, oracle: duckdb.DuckDBPyConnection, case: Case) -> None:
    _check(default_engine, oracle, case)


def test_scan_is_split_into_many_tasks(engine: Engine) -> None:
    plan = engine.plan("SELECT COUNT(flags) AS n FROM sky.object")
    assert plan.mode == "chunked"
    assert len(plan.tasks) > 10
    assert plan.merge_sql is not None


@pytest.mark.parametrize("maxrec", [0, 1, 17, 150, 1999])
def test_maxrec_truncates_and_flags_overflow(engine: Engine, maxrec: int) -> None:
    result = engine.query("SELECT id FROM sky.object", maxrec=maxrec)
    table = result.to_table()
    assert table.num_rows == maxrec
    assert result.overflow is True


@pytest.mark.parametrize("maxrec", [2000, 2001, 10_000])
def test_maxrec_at_or_above_row_count_is_not_overflow(engine: Engine, maxrec: int) -> None:
    result = engine.query("SELECT id FROM sky.object", maxrec=maxrec)
    assert result.to_table().num_rows == 2000
    assert result.overflow is False


def test_maxrec_on_ordered_top_keeps_the_first_rows(
        engine: Engine, oracle: duckdb.DuckDBPyConnection) -> None:
    adql = "SELECT TOP 100 id, dec FROM sky.object ORDER BY dec, id"
    result = engine.query(adql, maxrec=10)
    _names, rows = rows_of(result.to_table())
    assert result.overflow is True
    assert rows == run_oracle(oracle, adql)[1][:10]


def test_maxrec_on_aggregate_groups(engine: Engine) -> None:
    result = engine.query("SELECT flags, COUNT(*) AS n FROM sky.object GROUP BY flags",
                          maxrec=10)
    assert result.to_table().num_rows == 10
    assert result.overflow is True


def test_maxrec_on_region(engine: Engine, oracle: duckdb.DuckDBPyConnection) -> None:
    adql = f"SELECT id FROM sky.object WHERE {CLUSTER}"
    total = len(run_oracle(oracle, adql)[1])
    assert total > 5
    result = engine.query(adql, maxrec=total - 1)
    assert result.to_table().num_rows == total - 1
    assert result.overflow is True


def test_empty_region_gives_no_rows_with_columns(engine: Engine) -> None:
    result = engine.query(f"SELECT id, ra, name FROM sky.object WHERE {EMPTY}")
    table = result.to_table()
    assert table.num_rows == 0
    assert table.column_names == ["id", "ra", "name"]
    assert result.overflow is False


def test_empty_region_count_is_zero(engine: Engine) -> None:
    table = engine.query(f"SELECT COUNT(*) AS n, SUM(g_mag) AS s FROM sky.object "
                         f"WHERE {EMPTY}").to_table()
    assert table.to_pylist() == [{"n": 0, "s": None}]
