"""Find what limits the rows a table reference can contribute: sky regions, id lookups, and
the distance joining two tables' positions (the radius of a cross-match).

Works on the ADQL tree (geometry still as :mod:`engine.adql.nodes`), on the conjuncts
of one SELECT block's WHERE and inner-join ON clauses. Anything not understood simply
gives no constraint: the table is then scanned in full, which is slower but never wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from engine.adql import nodes
from engine.sky.regions import ConeRegion, IntersectionRegion, PolygonRegion, Region, UnionRegion

ColumnMatcher = Callable[[exp.Column], bool]


@dataclass(frozen=True, slots=True)
class PositionColumns:
    """How to recognise one table reference's position and id columns in the query."""

    is_ra: ColumnMatcher
    is_dec: ColumnMatcher
    is_id: ColumnMatcher | None = None


def conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    """Return the AND-ed parts of a predicate."""
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    return [node]


def _disjuncts(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Or):
        return _disjuncts(node.this) + _disjuncts(node.expression)
    return [node]


def _point_coords(node: exp.Expr | None) -> tuple[float, float] | None:
    if isinstance(node, nodes.Point):
        ra, dec = nodes.constant_value(node.this), nodes.constant_value(node.expression)
        if ra is not None and dec is not None:
            return ra, dec
    return None


def _is_position(node: exp.Expr | None, cols: PositionColumns) -> bool:
    return (
        isinstance(node, nodes.Point)
        and isinstance(node.this, exp.Column)
        and isinstance(node.expression, exp.Column)
        and cols.is_ra(node.this)
        and cols.is_dec(node.expression)
    )


def constant_region(node: exp.Expr | None) -> Region | None:
    """Return the sky region of a constant CIRCLE, BOX or POLYGON, else None."""
    if isinstance(node, nodes.Circle):
        centre = _point_coords(node.this)
        radius = nodes.constant_value(node.expression)
        if centre is not None and radius is not None and radius >= 0:
            return ConeRegion(centre[0] % 360.0, centre[1], radius)
    if isinstance(node, nodes.Box):
        centre = _point_coords(node.this)
        width = nodes.constant_value(node.args.get("width"))
        height = nodes.constant_value(node.args.get("height"))
        if centre is not None and width is not None and height is not None:
            # The box lies inside the cap through its corners; a little slack is harmless.
            half_diag = math.hypot(width / 2, height / 2)
            return ConeRegion(centre[0] % 360.0, centre[1], min(180.0, half_diag * 1.05 + 1e-6))
    if isinstance(node, nodes.Polygon):
        vertices = [_point_coords(p) for p in node.expressions]
        if vertices and all(v is not None for v in vertices):
            return PolygonRegion(tuple(v for v in vertices if v is not None))
    return None


def _is_true(node: exp.Expr) -> tuple[exp.Expr, bool] | None:
    """Unwrap ``f = 1`` / ``1 = f`` (and a bare ``f``) into ``(f, True)``."""
    if isinstance(node, exp.EQ):
        for fn, other in ((node.this, node.expression), (node.expression, node.this)):
            if isinstance(fn, nodes.Contains | nodes.Intersects) and (
                nodes.constant_value(other) == 1.0
            ):
                return fn, True
        return None
    if isinstance(node, nodes.Contains | nodes.Intersects):
        return node, True
    return None


def _distance_at_most(node: exp.Expr) -> tuple[nodes.Distance, float] | None:
    """``DISTANCE(p, q) < r`` (or ``<=``, ``r >``, ``BETWEEN .. AND r``): ``(DISTANCE, r)``."""
    dist: exp.Expr | None = None
    bound: exp.Expr | None = None
    if isinstance(node, exp.LT | exp.LTE):
        dist, bound = node.this, node.expression
    elif isinstance(node, exp.GT | exp.GTE):
        dist, bound = node.expression, node.this
    elif isinstance(node, exp.Between):
        dist, bound = node.this, node.args.get("high")
    radius = nodes.constant_value(bound)
    if isinstance(dist, nodes.Distance) and radius is not None:
        return dist, radius
    return None


def _distance_bound(node: exp.Expr, cols: PositionColumns) -> Region | None:
    """``DISTANCE(POINT(ra, dec), POINT(a, b)) < r`` (either side, either order)."""
    found = _distance_at_most(node)
    if found is not None:
        dist, radius = found
        for pos, other in ((dist.this, dist.expression), (dist.expression, dist.this)):
            centre = _point_coords(other)
            if _is_position(pos, cols) and centre is not None:
                return ConeRegion(centre[0] % 360.0, centre[1], max(radius, 0.0))
    return None


def _region_of(node: exp.Expr, cols: PositionColumns) -> Region | None:
    truth = _is_true(node)
    if truth is not None:
        fn = truth[0]
        inner, outer = fn.this, fn.expression
        if _is_position(inner, cols):
            return constant_region(outer)
        if isinstance(fn, nodes.Intersects) and _is_position(outer, cols):
            return constant_region(inner)
        return None
    return _distance_bound(node, cols)


def region_constraint(predicates: list[exp.Expr], cols: PositionColumns) -> Region | None:
    """Return the region every row of the table must lie in, or None when unconstrained."""
    found: list[Region] = []
    for pred in predicates:
        parts = _disjuncts(pred)
        regions = [_region_of(p, cols) for p in parts]
        if all(r is not None for r in regions):
            members = [r for r in regions if r is not None]
            found.append(members[0] if len(members) == 1 else UnionRegion(tuple(members)))
    if not found:
        return None
    return found[0] if len(found) == 1 else IntersectionRegion(tuple(found))


def _literal(node: exp.Expr) -> int | str | None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        value = nodes.constant_value(node)
        if value is not None and float(value).is_integer():
            return int(value)
    if isinstance(node, exp.Neg):
        inner = _literal(node.this)
        return -inner if isinstance(inner, int) else None
    return None


def id_constraint(predicates: list[exp.Expr], is_id: ColumnMatcher) -> list[int | str] | None:
    """Return the id values a table is restricted to by ``id = X`` or ``id IN (...)``."""
    for pred in predicates:
        values = _id_values(pred, is_id)
        if values is not None:
            return values
    return None


def _id_values(pred: exp.Expr, is_id: ColumnMatcher) -> list[int | str] | None:
    while isinstance(pred, exp.Paren):
        pred = pred.this
    if isinstance(pred, exp.EQ):
        for col, other in ((pred.this, pred.expression), (pred.expression, pred.this)):
            if isinstance(col, exp.Column) and is_id(col):
                value = _literal(other)
                if value is not None:
                    return [value]
    if isinstance(pred, exp.In) and not pred.args.get("query") and not pred.args.get("not"):
        col = pred.this
        if isinstance(col, exp.Column) and is_id(col):
            values = [_literal(e) for e in pred.expressions]
            if values and all(v is not None for v in values):
                return [v for v in values if v is not None]
    if isinstance(pred, exp.Or):
        left, right = _id_values(pred.this, is_id), _id_values(pred.expression, is_id)
        if left is not None and right is not None:
            return left + right
    return None


@dataclass(frozen=True, slots=True)
class PairMatch:
    """A join condition keeping pairs of rows of two tables within a radius of each other."""

    radius_deg: float
    first: tuple[str, str]
    """Names of the first table's position columns (ra, dec) as the query wrote them."""
    second: tuple[str, str]
    """Names of the second table's position columns."""


def match_constraint(predicates: list[exp.Expr], first: PositionColumns,
                     second: PositionColumns) -> PairMatch | None:
    """Return the radius joining two tables' positions, from the first predicate that gives one.

    Recognised (either table first): ``DISTANCE(POINT(a), POINT(b)) < r`` (and ``<=``,
    ``r >``, ``BETWEEN .. AND r``), ``CONTAINS(POINT(a), CIRCLE(POINT(b), r)) = 1`` and
    ``INTERSECTS`` either way round, where ``r`` is a constant.
    """
    for pred in predicates:
        pairs: list[tuple[exp.Expr, exp.Expr, float | None]] = []
        truth = _is_true(pred)
        if truth is not None:
            fn = truth[0]
            sides = [(fn.this, fn.expression)]
            if isinstance(fn, nodes.Intersects):
                sides.append((fn.expression, fn.this))
            pairs += [(point, circle.this, nodes.constant_value(circle.expression))
                      for point, circle in sides if isinstance(circle, nodes.Circle)]
        else:
            found = _distance_at_most(pred)
            if found is not None:
                pairs.append((found[0].this, found[0].expression, found[1]))
        for p, q, radius in pairs:
            if radius is None:
                continue
            if _is_position(p, first) and _is_position(q, second):
                return PairMatch(max(radius, 0.0), _names(p), _names(q))
            if _is_position(q, first) and _is_position(p, second):
                return PairMatch(max(radius, 0.0), _names(q), _names(p))
    return None


def _names(point: exp.Expr) -> tuple[str, str]:
    assert isinstance(point, nodes.Point)
    return point.this.name, point.expression.name
