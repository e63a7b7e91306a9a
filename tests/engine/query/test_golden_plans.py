"""Golden plans: representative queries with their mode, chunks, task SQL and merge SQL.

``tests/golden/plans.sql`` holds one block per query; ``pytest --update-golden`` rewrites it
and the diff is reviewed. The data directory is replaced by ``{DATA}`` so blocks are stable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Engine

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "plans.sql"

QUERIES = {
    "full-scan-count": "SELECT COUNT(flags) AS n FROM sky.object",
    "metadata-count": "SELECT COUNT(*) AS n FROM sky.object",
    "cone-cluster": "SELECT id, ra, dec FROM sky.object WHERE "
                    "CONTAINS(POINT(ra, dec), CIRCLE(150.0, 2.0, 0.1)) = 1",
    "cone-seam-distance": "SELECT id FROM sky.object WHERE DISTANCE(ra, dec, 0.0, 0.0) < 0.5",
    "cone-pole": "SELECT id FROM sky.object WHERE "
                 "1 = CONTAINS(POINT(ra, dec), CIRCLE(0.0, 90.0, 1.0))",
    "polygon": "SELECT id FROM sky.object WHERE 1 = CONTAINS(POINT(ra, dec), "
               "POLYGON(149.8, 1.8, 150.3, 1.9, 150.0, 2.3))",
    "or-of-regions": "SELECT id FROM sky.object WHERE "
                     "CONTAINS(POINT(ra, dec), CIRCLE(150.0, 2.0, 0.1)) = 1 OR "
                     "CONTAINS(POINT(ra, dec), CIRCLE(0.0, 0.0, 0.5)) = 1",
    "id-lookup": "SELECT * FROM sky.object WHERE id IN (1000, 2470, 14993)",
    "child-id-lookup": "SELECT source_id FROM sky.source WHERE object_id = 2470",
    "top-order": "SELECT TOP 10 id, dec FROM sky.object ORDER BY dec DESC, id",
    "group-by": "SELECT flags, COUNT(*) AS n, AVG(g_mag) AS g, MIN(ra) AS r "
                "FROM sky.object GROUP BY flags HAVING COUNT(*) > 30",
    "distinct-offset": "SELECT DISTINCT flags FROM sky.object ORDER BY flags OFFSET 5",
    "director-child-join": "SELECT o.id, COUNT(*) AS n FROM sky.object o JOIN sky.source s "
                           "ON o.id = s.object_id WHERE CONTAINS(POINT(o.ra, o.dec), "
                           "CIRCLE(150.0, 2.0, 0.1)) = 1 GROUP BY o.id",
    "regular-join": "SELECT o.id, f.label FROM sky.object o JOIN sky.flagdefs f "
                    "ON o.flags = f.flag WHERE o.id = 1000",
    "neighbours": "SELECT a.id AS aid, b.id AS bid FROM sky.object a JOIN sky.object b ON "
                  "1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 5/3600.)) "
                  "WHERE a.id <> b.id",
    "crossmatch-other": "SELECT o.id AS oid, t.id AS tid FROM sky.object o JOIN sky.other t "
                        "ON 1 = CONTAINS(POINT(o.ra, o.dec), CIRCLE(t.ra, t.dec, 4/3600.))",
    "subquery-single": "SELECT id FROM sky.object WHERE flags IN "
                       "(SELECT flag FROM sky.flagdefs WHERE weight > 6)",
    "union-single": "SELECT id FROM sky.object WHERE id < 1050 UNION "
                    "SELECT object_id FROM sky.source WHERE object_id < 1050",
    "right-join-single": "SELECT o.id, f.label FROM sky.object o RIGHT JOIN sky.flagdefs f "
                         "ON o.flags = f.flag",
    "child-positions-key-lookup": "SELECT sourceId, mjd FROM sky.src WHERE objectId = 1021",
    "child-positions-cone": "SELECT sourceId FROM sky.src WHERE "
                            "CONTAINS(POINT(ra, dec), CIRCLE(0.0011, 0.0, 1/3600.)) = 1",
}


def _block(engine: Engine, name: str, adql: str) -> str:
    plan = engine.plan(adql)
    data = str(engine.data_dir.resolve())
    chunks = sum(len(t.chunks) for t in plan.tasks)

    def stable(sql: str) -> str:
        return sql.replace(data, "{DATA}").replace(str(engine.data_dir), "{DATA}")

    lines = [f"-- query: {name}", f"-- mode: {plan.mode}"]
    if plan.fallback:
        lines.append(f"-- why single: {plan.fallback}")
    lines += [f"-- tasks: {len(plan.tasks)}", f"-- chunks: {chunks} of {plan.chunks_total}",
              f"{adql};"]
    if plan.tasks:
        lines += ["-- task[0]:", f"{stable(plan.tasks[0].sql)};"]
    lines += ["-- merge:", f"{stable(plan.merge_sql)};" if plan.merge_sql else "-- (none)"]
    return "\n".join(lines) + "\n"


def _parse(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    for chunk in text.split("\n\n"):
        if chunk.startswith("-- query: "):
            blocks[chunk.splitlines()[0].removeprefix("-- query: ")] = chunk.strip() + "\n"
    return blocks


@pytest.fixture(scope="module")
def golden(engine: Engine, update_golden: bool) -> dict[str, str]:
    if update_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text("\n".join(_block(engine, n, q) for n, q in QUERIES.items()))
    if not GOLDEN.exists():
        pytest.fail(f"{GOLDEN} is missing; run pytest --update-golden and review it.")
    return _parse(GOLDEN.read_text())


@pytest.mark.parametrize("name", list(QUERIES))
def test_plan_matches_golden(engine: Engine, golden: dict[str, str], name: str) -> None:
    assert name in golden, f"no golden block for {name}; run pytest --update-golden"
    assert _block(engine, name, QUERIES[name]) == golden[name]


def test_golden_has_no_stale_blocks(golden: dict[str, str]) -> None:
    assert set(golden) == set(QUERIES)


def test_golden_paths_are_relative(golden: dict[str, str]) -> None:
    for block in golden.values():
        assert "/tmp/" not in block and "pytest-" not in block
