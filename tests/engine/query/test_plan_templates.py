"""Plans made from a shape's parse template equal plans made from a fresh parse.

Random cones, id lookups and filters over the small sky, each planned after another query of
its shape (other numbers) left a template, and planned again with no template kept: the
same tasks (SQL and chunks), merge and columns, or the same error.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.adql.parse import TEMPLATES
from engine.api import Engine
from engine.errors import EngineError

SHAPES = [
    "SELECT id, ra, dec FROM sky.object WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
    "CIRCLE('ICRS', {a}, {b}, {c}))",
    "SELECT * FROM sky.object WHERE id = {n}",
    "SELECT o.id, s.ra FROM sky.object AS o JOIN sky.source AS s ON s.object_id = o.id "
    "WHERE o.id IN ({n}, {m})",
    "SELECT TOP {n} id, mag_r FROM sky.object WHERE mag_r < {c} AND "
    "CONTAINS(POINT(ra, dec), CIRCLE({a}, {b}, {c})) = {m} ORDER BY mag_r",
    "SELECT flags, COUNT(*) AS n FROM sky.object WHERE dec BETWEEN {b} AND {c} GROUP BY flags",
]

values = st.fixed_dictionaries({
    "a": st.floats(-10, 370, allow_nan=False).map(repr),
    "b": st.floats(-95, 95, allow_nan=False).map(repr),
    "c": st.one_of(st.floats(0, 30, allow_nan=False).map(repr), st.just("0.5")),
    "n": st.integers(0, 2_100).map(str),
    "m": st.sampled_from(["0", "1", "2", "17"]),
})

_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


def _planned(engine: Engine, adql: str) -> tuple[object, ...]:
    try:
        plan = engine.plan(adql)
    except EngineError as exc:
        return ("error", type(exc).__name__, str(exc))
    return (plan.mode, plan.fallback, plan.merge_sql, plan.row_limit, plan.chunks_total,
            plan.columns, tuple((t.sql, t.chunks, t.memory_tables, t.scan) for t in plan.tasks))


@_SETTINGS
@given(shape=st.sampled_from(SHAPES), first=values, second=values)
def test_plan_from_template_equals_plan_from_fresh_parse(
        engine: Engine, shape: str, first: dict[str, str], second: dict[str, str]) -> None:
    adql = shape.format(**second)
    TEMPLATES.clear()
    fresh = _planned(engine, adql)
    TEMPLATES.clear()
    _planned(engine, shape.format(**first))  # leaves the shape's template
    assert _planned(engine, adql) == fresh
