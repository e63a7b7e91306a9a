"""The planning passes: shapes in order, why a query runs as one task, the cross-match
radius found on the ADQL tree, and a child placed with its director."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from sqlglot import exp

from engine.adql.parse import parse_adql
from engine.api import Engine
from engine.catalog import read_table
from engine.planning import SHAPES
from engine.planning.constraints import PositionColumns, conjuncts, match_constraint
from engine.sky.regions import angular_distance_deg

from .cases import CLUSTER, POLE, SEAM, SRC_PINNED
from .oracle import assert_same_result, rows_of, run_oracle


def test_shapes_are_tried_in_a_fixed_order() -> None:
    assert [name for name, _shape in SHAPES] == ["crossmatch", "chunked"]


@pytest.mark.parametrize(("adql", "mode"), [
    ("SELECT COUNT(*) AS n FROM sky.object", "metadata"),
    ("SELECT COUNT(flags) AS n FROM sky.object", "chunked"),
    ("SELECT sourceId FROM sky.src WHERE objectId = 1000", "chunked"),
    ("SELECT o.id, s.sourceId FROM sky.object o JOIN sky.src s ON o.id = s.objectId", "chunked"),
    ("SELECT o.id AS oid, t.id AS tid FROM sky.object o JOIN sky.other t "
     "ON DISTANCE(o.ra, o.dec, t.ra, t.dec) < 2/3600.", "crossmatch"),
])
def test_split_plans_give_no_fallback_reason(engine: Engine, adql: str, mode: str) -> None:
    plan = engine.plan(adql)
    assert plan.mode == mode
    assert plan.fallback is None
    assert "why single" not in plan.explain()


@pytest.mark.parametrize(("adql", "reason"), [
    ("SELECT id FROM sky.object UNION SELECT id FROM sky.other", "set operation"),
    ("SELECT flag FROM sky.flagdefs", "reads no partitioned table"),
    ("WITH c AS (SELECT id FROM sky.object) SELECT COUNT(*) AS n FROM c",
     "read in subqueries or WITH"),
    ("SELECT id FROM sky.object WHERE id IN (SELECT object_id FROM sky.source)",
     "also read in a subquery"),
    ("SELECT o.id FROM sky.object o RIGHT JOIN sky.flagdefs f ON o.flags = f.flag",
     "RIGHT or FULL join"),
    ("SELECT a.id FROM sky.object a JOIN sky.other b ON a.id + 5000000 = b.id",
     "not a director and its child"),
    ("SELECT o.id FROM sky.object o JOIN sky.src s ON o.flags = s.objectId",
     "not joined to its director on the director key"),
    ("SELECT o.id FROM sky.object o JOIN sky.other t ON DISTANCE(o.ra, o.dec, t.ra, t.dec) "
     "< o.g_mag", "no DISTANCE or CONTAINS condition"),
    ("SELECT s.sourceId FROM sky.src s JOIN sky.other t ON DISTANCE(s.ra, s.dec, t.ra, t.dec) "
     "< 1/3600.", "child table is placed with its director"),
    ("SELECT AVG(DISTINCT flags) AS a FROM sky.object", "cannot be merged"),
])
def test_single_plans_say_why(engine: Engine, adql: str, reason: str) -> None:
    plan = engine.plan(adql)
    assert plan.mode == "single"
    assert plan.fallback is not None and reason in plan.fallback, plan.fallback
    assert f"why single: {plan.fallback}" in plan.explain()


def _predicates(adql: str) -> list[exp.Expr]:
    tree = parse_adql(adql)
    assert isinstance(tree, exp.Select)
    preds = conjuncts(tree.args["where"].this) if tree.args.get("where") else []
    for join in tree.args.get("joins") or []:
        preds += conjuncts(join.args.get("on"))
    return preds


def _position(alias: str) -> PositionColumns:
    def is_col(name: str) -> Callable[[exp.Column], bool]:
        return lambda col: col.name == name and col.table in (alias, "")

    return PositionColumns(is_ra=is_col("ra"), is_dec=is_col("dec"))


@pytest.mark.parametrize("condition", [
    "DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < 0.002",
    "DISTANCE(b.ra, b.dec, a.ra, a.dec) <= 0.002",
    "0.002 > DISTANCE(a.ra, a.dec, b.ra, b.dec)",
    "DISTANCE(a.ra, a.dec, b.ra, b.dec) BETWEEN 0 AND 0.002",
    "1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 0.002))",
    "CONTAINS(POINT(b.ra, b.dec), CIRCLE(POINT(a.ra, a.dec), 0.002)) = 1",
    "INTERSECTS(CIRCLE(b.ra, b.dec, 0.002), POINT(a.ra, a.dec)) = 1",
    "a.id > 3 AND 1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 2 * 0.001))",
])
def test_match_radius_is_found_on_the_adql_tree(condition: str) -> None:
    preds = _predicates(f"SELECT a.id FROM t.a AS a JOIN t.b AS b ON {condition}")
    match = match_constraint(preds, _position("a"), _position("b"))
    assert match is not None
    assert match.radius_deg == pytest.approx(0.002)
    assert match.first == ("ra", "dec") and match.second == ("ra", "dec")


@pytest.mark.parametrize("condition", [
    "DISTANCE(a.ra, a.dec, b.ra, b.dec) < a.r",                     # not a constant
    "DISTANCE(a.ra, a.dec, b.ra, b.dec) > 0.002",                   # a lower bound
    "DISTANCE(a.ra, a.dec, a.ra, b.dec) < 0.002",                   # not two positions
    "CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 0.002)) = 0",  # outside
    "DISTANCE(a.ra, a.dec, 10.0, 20.0) < 0.002",                    # a cone, not a match
])
def test_what_is_not_a_match_radius(condition: str) -> None:
    preds = _predicates(f"SELECT a.id FROM t.a AS a JOIN t.b AS b ON {condition}")
    assert match_constraint(preds, _position("a"), _position("b")) is None


def test_child_with_positions_records_its_largest_offset_from_its_director(
        data_dir: Path, sky_files: dict[str, Path]) -> None:
    src = pq.read_table(sky_files["sky.src"])
    objects = pq.read_table(sky_files["sky.object"], columns=["id", "ra", "dec"])
    row_of = {int(i): k for k, i in enumerate(objects.column("id").to_numpy())}
    rows = np.array([row_of[int(i)] for i in src.column("objectId").to_numpy()])
    offsets = angular_distance_deg(src.column("ra").to_numpy(), src.column("dec").to_numpy(),
                                   objects.column("ra").to_numpy()[rows],
                                   objects.column("dec").to_numpy()[rows]) * 3600
    published = read_table(data_dir, "sky.src")
    assert published is not None
    recorded = published.manifest.director_offset_arcsec
    assert recorded is not None
    assert offsets.max() <= recorded < offsets.max() + 0.01
    assert read_table(data_dir, "sky.source").manifest.director_offset_arcsec is None


@pytest.mark.parametrize("object_id", sorted(SRC_PINNED))
def test_cone_on_a_child_reads_the_chunk_of_its_director(engine: Engine, object_id: int) -> None:
    ra, dec = SRC_PINNED[object_id]
    by_key = engine.plan(f"SELECT sourceId FROM sky.src WHERE objectId = {object_id}")
    cone = engine.plan("SELECT sourceId FROM sky.src WHERE "
                       f"CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, 1/3600.)) = 1")
    key_chunks = {c for t in by_key.tasks for c in t.chunks}
    assert len(key_chunks) == 1
    assert key_chunks <= {c for t in cone.tasks for c in t.chunks}


# Queries that run as one task yet constrain their top FROM table: that table reads only
# the partitions its cone or ids need, the same table in a subquery reads every one, and
# the answer is the unsharded oracle's (across the RA seam, at the pole, in a cluster).
SINGLE_PRUNED = [
    f"SELECT id FROM sky.object WHERE {region} AND id IN (SELECT object_id FROM sky.source)"
    for region in (CLUSTER, SEAM, POLE)
] + [
    f"SELECT o.id, o.ra FROM sky.object o WHERE {CLUSTER.replace('(ra, dec)', '(o.ra, o.dec)')} "
    "AND o.id IN (SELECT id FROM sky.object WHERE flags = 0)",
    "SELECT id FROM sky.object WHERE id IN (1000, 1007, 14993) "
    "AND id IN (SELECT object_id FROM sky.source)",
]


@pytest.mark.parametrize("adql", SINGLE_PRUNED)
def test_single_plans_read_only_their_top_tables_chunks(
        engine: Engine, oracle: duckdb.DuckDBPyConnection, adql: str) -> None:
    plan = engine.plan(adql)
    assert plan.mode == "single"
    total = len(engine.table("sky.object").partitions)
    assert 0 < len(plan.tasks[0].chunks) < total, plan.explain()
    assert_same_result(rows_of(engine.query(adql).to_table()), run_oracle(oracle, adql),
                       ordered=False)
