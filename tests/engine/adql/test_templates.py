"""A query parsed from its shape's template gives the tree, positions and errors of a fresh parse.

Each example plans one text twice: once after another query of the same shape (other
numbers, other lengths) left its template, once with no template kept. Numbers include
ones that make the query wrong (``TOP 1.5``, negative or huge radii, ``0 = CONTAINS``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from engine.adql.parse import TEMPLATES, parse_adql
from engine.errors import AdqlError

SHAPES = [
    "SELECT id, ra, dec FROM sim.object WHERE {b} = CONTAINS(POINT('ICRS', ra, dec), "
    "CIRCLE('ICRS', {a}, {c}, {d}))",
    "SELECT * FROM sim.object WHERE id = {a}",
    "SELECT TOP {a} id FROM sim.object WHERE mag_r < {b}\n  AND nosuch > {c} -- note\nORDER BY 1",
    "SELECT id, ra * {a} AS x FROM sim.object WHERE id IN ({b}, {c}) AND flags BETWEEN {c} "
    "AND {d}",
    "SELECT COUNT(*) AS n FROM sim.object WHERE 1 = CONTAINS(POINT(ra, dec), BOX({a}, {b}, "
    "{c}, {d})) GROUP BY flags HAVING COUNT(*) > {a}",
    "SELECT TOP {a} * FROM sim.object AS o WHERE o.ra > {b} OFFSET {c}",
    "SELECT CAST(ra AS DECIMAL({a}, {b})) FROM sim.object WHERE dec < {c} + {d}",
]

numbers = st.one_of(
    st.integers(0, 10**12).map(str),
    st.floats(0, 1e4, allow_nan=False).map(repr),
    st.floats(0, 1, allow_nan=False).map(lambda f: f"{f:.3e}"),
    st.sampled_from(["0", "1", "1.5", "00", "360", "90.000001", "1e999", ".5", "5."]),
)


def _outcome(text: str) -> tuple[str, ...]:
    """What parsing ``text`` gives: the tree's SQL and every node's position, or the error."""
    try:
        tree = parse_adql(text)
    except AdqlError as exc:
        return ("error", type(exc).__name__, str(exc))
    nodes = [f"{type(n).__name__}:{n.this if isinstance(n, exp.Literal) else ''}:"
             f"{sorted((n._meta or {}).items())}" for n in tree.walk()]
    return ("tree", tree.sql(), *nodes)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(shape=st.sampled_from(SHAPES), first=st.lists(numbers, min_size=4, max_size=4),
       second=st.lists(numbers, min_size=4, max_size=4))
def test_template_parse_equals_fresh_parse(shape: str, first: list[str],
                                           second: list[str]) -> None:
    text = shape.format(**dict(zip("abcd", second, strict=True)))
    TEMPLATES.clear()
    fresh = _outcome(text)
    TEMPLATES.clear()
    _outcome(shape.format(**dict(zip("abcd", first, strict=True))))  # leaves the template
    assert _outcome(text) == fresh


def test_a_known_shape_skips_the_parser() -> None:
    TEMPLATES.clear()
    parse_adql("SELECT * FROM sim.object WHERE id = 1")
    assert len(TEMPLATES._shapes) == 1
    tree = parse_adql("SELECT * FROM sim.object WHERE id = 123456789")
    assert len(TEMPLATES._shapes) == 1
    literal = tree.find(exp.Literal)
    assert literal is not None and literal.this == "123456789"
    assert literal.meta["start"] == 36 and literal.meta["end"] == 44


def test_a_failed_parse_keeps_no_template() -> None:
    TEMPLATES.clear()
    with pytest.raises(AdqlError):
        parse_adql("SELECT * FROM sim.object WHERE id = = 1")
    assert not TEMPLATES._shapes
