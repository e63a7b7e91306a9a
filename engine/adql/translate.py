"""Translate a parsed ADQL tree into a DuckDB tree (:func:`to_duckdb`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from engine.adql import nodes
from engine.adql.nodes import constant_value, geometry_xtype
from engine.adql.walk import find_all
from engine.errors import AdqlError, UnsupportedQueryError

__all__ = ["UnitLookup", "geometry_xtype", "to_duckdb"]

UnitLookup = Callable[[exp.Column], "str | None"]
"""Returns the unit string of a column (as in TAP_SCHEMA), or ``None`` when unknown."""


@dataclass(frozen=True, slots=True)
class _Geo:
    kind: str | None
    """``point``, ``circle``, ``polygon`` or ``None`` when only known at run time."""
    coords: list[exp.Expr] | None
    """DuckDB scalar expressions of the DALI array, when statically known."""
    given: exp.Expr | None = None
    """DuckDB expression of the ``DOUBLE[]`` value, when not built from ``coords``."""

    @property
    def value(self) -> exp.Expr:
        """The ``DOUBLE[]`` value (built on demand: the fast paths never need it)."""
        if self.given is not None:
            return self.given
        assert self.coords is not None
        return _array(self.coords)


def to_duckdb(tree: exp.Query, *, units: UnitLookup | None = None,
              copy: bool = True) -> exp.Query:
    """Compile an ADQL tree into an equivalent DuckDB tree.

    Geometry becomes DALI ``DOUBLE[]`` lists and calls to the ``adql_*`` macros of
    :data:`engine.adql.geometry.GEOMETRY_MACROS`; ``CONTAINS(POINT, CIRCLE) = 1`` becomes a
    plain haversine comparison. Tables and columns stay ``exp.Table``/``exp.Column`` (every
    identifier is emitted quoted, so column names such as ``dec`` or ``size`` are safe).
    ``TOP n`` is ``LIMIT n``.

    Parameters
    ----------
    tree
        A tree from :func:`engine.adql.parse.parse_adql`; it is not modified unless
        ``copy`` is False.
    units
        Resolves ``IN_UNIT(column, 'unit')``: returns the column's unit. Without it, or
        when the argument is not a column with a known unit, ``IN_UNIT`` is refused.
    copy
        False translates ``tree`` in place (its nodes become the result's): for a caller
        that has no further use for the ADQL tree, it saves copying the whole tree.

    Returns
    -------
    exp.Query
        Generate SQL with ``.sql(dialect="duckdb")``.

    Raises
    ------
    UnsupportedQueryError
        ``REGION``, or ``IN_UNIT`` that cannot be resolved.

    Examples
    --------
    >>> from engine.adql.parse import parse_adql
    >>> to_duckdb(parse_adql("SELECT TOP 2 ra FROM t")).sql(dialect="duckdb")
    'SELECT "ra" FROM "t" LIMIT 2'
    """
    out = _Translator(units).visit(tree.copy() if copy else tree)
    for ident in find_all(out, exp.Identifier):
        ident.set("quoted", True)
    return out  # type: ignore[return-value]


def _double(e: exp.Expr) -> exp.Expr:
    # the DOUBLE[] cast of the whole array (or the macros' arithmetic) fixes the type
    return e


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _item(value: exp.Expr, index: int) -> exp.Expr:
    return _call("list_extract", value, exp.Literal.number(index))


_DOUBLE_LIST = exp.DataType.build("DOUBLE[]", dialect="duckdb")
_INT = exp.DataType.build("INT")
_VARCHAR = exp.DataType.build("VARCHAR")


def _array(coords: list[exp.Expr]) -> exp.Expr:
    return exp.Cast(
        this=exp.Array(expressions=[c.copy() for c in coords]), to=_DOUBLE_LIST.copy()
    )


def _num(value: float) -> exp.Expr:
    return exp.Literal.number(value)


class _Translator:
    def __init__(self, units: UnitLookup | None) -> None:
        self.units = units

    # -- generic ---------------------------------------------------------------------
    def visit(self, node: exp.Expr) -> exp.Expr:
        handler = getattr(self, f"_{node.key}", None)
        if handler is not None:
            return handler(node)  # type: ignore[no-any-return]
        if isinstance(node, nodes.GEOMETRY_TYPES):
            return self.geo(node).value
        self._children(node)
        return node

    def _children(self, node: exp.Expr) -> None:
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expr):
                node.set(key, self.visit(value))
            elif isinstance(value, list):
                node.set(
                    key, [self.visit(v) if isinstance(v, exp.Expr) else v for v in value]
                )

    # -- geometry values ---------------------------------------------------------------
    def geo(self, node: exp.Expr) -> _Geo:
        if isinstance(node, nodes.Point):
            coords = [_double(self.visit(node.this)), _double(self.visit(node.expression))]
            return _Geo("point", coords)
        if isinstance(node, nodes.Circle):
            center = self._point_coords(node.this)
            coords = [*center, _double(self.visit(node.expression))]
            return _Geo("circle", coords)
        if isinstance(node, nodes.Polygon):
            coords = [c for v in node.expressions for c in self._point_coords(v)]
            return _Geo("polygon", coords)
        if isinstance(node, nodes.Box):
            return self._box_geo(node)
        if isinstance(node, nodes.Centroid):
            inner = self.geo(node.this)
            if inner.kind in ("point", "circle") and inner.coords:
                coords = inner.coords[:2]
                return _Geo("point", coords)
            middle = _call("adql_center", _call("adql_complete", inner.value))
            coords = [_item(middle, 1), _item(middle, 2)]
            return _Geo("point", coords, middle)
        if isinstance(node, nodes.Region):
            raise UnsupportedQueryError(
                "REGION() (STC-S strings) is not supported; use POINT, CIRCLE or POLYGON"
            )
        if isinstance(node, exp.Paren):
            return self.geo(node.this)
        return _Geo(None, None, self.visit(node))

    def _point_coords(self, node: exp.Expr) -> list[exp.Expr]:
        g = self.geo(node)
        if g.kind == "point" and g.coords:
            return [c.copy() for c in g.coords]
        return [_item(g.value, 1), _item(g.value, 2)]

    def _box_geo(self, node: nodes.Box) -> _Geo:
        ra, dec = self._point_coords(node.this)
        half_w = exp.Div(this=_double(self.visit(node.args["width"])), expression=_num(2))
        half_h = exp.Div(this=_double(self.visit(node.args["height"])), expression=_num(2))
        coords: list[exp.Expr] = []
        for sw, sh in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            dx = exp.Mul(this=_num(sw), expression=half_w.copy())
            dy = exp.Mul(this=_num(sh), expression=half_h.copy())
            coords.append(exp.Add(this=ra.copy(), expression=dx))
            coords.append(exp.Add(this=dec.copy(), expression=dy))
        return _Geo("polygon", coords)

    # -- geometry functions ------------------------------------------------------------
    def _predicate(self, node: exp.Expr) -> exp.Expr:
        """Boolean DuckDB form of CONTAINS / INTERSECTS."""
        a, b = self.geo(node.this), self.geo(node.expression)
        if isinstance(node, nodes.Intersects) and b.kind == "point" and a.kind != "point":
            a, b = b, a
        if a.kind == "point" and a.coords and b.kind == "circle" and b.coords:
            return _call("adql_in_circle", *a.coords, *b.coords)
        if a.kind == "point" and a.coords and b.kind == "polygon":
            sign = _constant_orientation(b.coords)
            if sign is not None:  # constant polygon: orientation computed once, here
                return _call("adql_in_polygon_s", *a.coords, b.value, _num(sign))
            return _call("adql_in_polygon", *a.coords, b.value)
        if a.kind == b.kind == "circle" and a.coords and b.coords:
            dist = _call("adql_dist", *a.coords[:2], *b.coords[:2])
            if isinstance(node, nodes.Contains):
                inner = exp.Add(this=dist, expression=a.coords[2])
                return exp.LTE(this=inner, expression=b.coords[2])
            return exp.LTE(this=dist, expression=exp.Add(this=a.coords[2], expression=b.coords[2]))
        name = "adql_contains" if isinstance(node, nodes.Contains) else "adql_intersects"
        return _call(name, a.value, b.value)

    def _as_int(self, node: exp.Expr) -> exp.Expr:
        return exp.Cast(this=exp.Paren(this=self._predicate(node)), to=_INT.copy())

    def _contains(self, node: nodes.Contains) -> exp.Expr:
        return self._as_int(node)

    def _intersects(self, node: nodes.Intersects) -> exp.Expr:
        return self._as_int(node)

    def _eq(self, node: exp.EQ) -> exp.Expr:
        return self._compare(node, negate=False)

    def _neq(self, node: exp.NEQ) -> exp.Expr:
        return self._compare(node, negate=True)

    def _compare(self, node: exp.Expr, *, negate: bool) -> exp.Expr:
        for func, other in ((node.this, node.expression), (node.expression, node.this)):
            value = constant_value(other)
            if isinstance(func, (nodes.Contains, nodes.Intersects)) and value in (0.0, 1.0):
                pred = exp.Paren(this=self._predicate(func))
                return exp.Not(this=pred) if (value == 0.0) != negate else pred
        self._children(node)
        return node

    def _distance(self, node: nodes.Distance) -> exp.Expr:
        a, b = self.geo(node.this), self.geo(node.expression)
        if a.kind == b.kind == "point" and a.coords and b.coords:
            return _call("adql_dist", *a.coords, *b.coords)
        return _call("adql_distance", a.value, b.value)

    # A geometry with a NULL coordinate is NULL, and so is anything measured on it.
    def _area(self, node: nodes.Area) -> exp.Expr:
        g = self.geo(node.this)
        if g.kind == "circle" and g.coords:
            ra, dec, radius = g.coords
            return _call("adql_if_known", _call("adql_circle_area", radius), ra.copy(),
                         dec.copy())
        if g.kind == "polygon":
            return _call("adql_poly_area", _call("adql_complete", g.value))
        if g.kind == "point" and g.coords:
            return _call("adql_if_known", _num(0.0), *g.coords)
        return _call("adql_area", _call("adql_complete", g.value))

    def _coord1(self, node: nodes.Coord1) -> exp.Expr:
        ra, dec = self._point_coords(node.this)
        return _call("adql_if_known", ra, ra.copy(), dec)

    def _coord2(self, node: nodes.Coord2) -> exp.Expr:
        ra, dec = self._point_coords(node.this)
        return _call("adql_if_known", dec, ra, dec.copy())

    def _coordsys(self, node: nodes.CoordSys) -> exp.Expr:
        return exp.Literal.string("ICRS")

    # -- other ADQL functions ----------------------------------------------------------
    def _truncate(self, node: nodes.Truncate) -> exp.Expr:
        x = self.visit(node.this)
        digits = node.args.get("decimals")
        if digits is None:
            return _call("trunc", x)
        scale = _call("pow", _num(10), self.visit(digits))
        return exp.Div(
            this=_call("trunc", exp.Mul(this=x, expression=scale)), expression=scale.copy()
        )

    def _log(self, node: exp.Log) -> exp.Expr:
        return _call("log10", self.visit(node.expression))

    def _rand(self, node: exp.Rand) -> exp.Expr:
        return _call("random")  # DuckDB's random() takes no seed (setseed() is a statement)

    def _octetlength(self, node: nodes.OctetLength) -> exp.Expr:
        return _call("strlen", self.visit(node.this))

    def _inunit(self, node: nodes.InUnit) -> exp.Expr:
        target = node.expression
        if not (isinstance(target, exp.Literal) and target.is_string):
            raise AdqlError("IN_UNIT needs a unit string as second argument: IN_UNIT(x, 'deg')")
        column = node.this
        unit = self.units(column) if self.units and isinstance(column, exp.Column) else None
        if unit is None:
            raise UnsupportedQueryError(
                f"IN_UNIT({node.this.sql()}, ...): the unit of the value is unknown; "
                "apply IN_UNIT to a column that has a unit"
            )
        factor = _unit_factor(unit, target.this)
        return exp.Mul(this=exp.Paren(this=self.visit(column)), expression=_num(factor))

    def _cast(self, node: exp.Cast) -> exp.Expr:
        to = node.to
        value = self.visit(node.this)
        if to.this == exp.DataType.Type.USERDEFINED:  # POINT, CIRCLE, POLYGON from text
            parts = _call("regexp_split_to_array", _call("trim", value), exp.Literal.string(r"\s+"))
            return exp.Cast(this=parts, to=_DOUBLE_LIST.copy())
        if to.this in (exp.DataType.Type.CHAR, exp.DataType.Type.VARCHAR):
            to = _VARCHAR.copy()
        return exp.Cast(this=value, to=to)

    # -- query structure ---------------------------------------------------------------
    def _column(self, node: exp.Column) -> exp.Expr:
        if isinstance(node.this, exp.Star):  # DuckDB takes table.* but not schema.table.*
            node.set("db", None)
            node.set("catalog", None)
        return node

    def _join(self, node: exp.Join) -> exp.Expr:
        self._children(node)
        if node.args.get("on") is None and not node.args.get("using") and not node.method:
            if node.side:
                node.set("on", exp.true())
            else:
                node.set("kind", "CROSS")
        return node

    def _union(self, node: exp.SetOperation) -> exp.Expr:
        self._children(node)
        for key in ("this", "expression"):
            operand = node.args[key]
            if isinstance(operand, exp.Select) and any(
                operand.args.get(k) for k in ("limit", "offset", "order")
            ):
                node.set(key, exp.Subquery(this=operand))
        return node

    _intersect = _union
    _except = _union


def _unit_vector(ra_deg: float, dec_deg: float) -> tuple[float, float, float]:
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    return (math.cos(dec) * math.cos(ra), math.cos(dec) * math.sin(ra), math.sin(dec))


def _constant_orientation(coords: list[exp.Expr] | None) -> float | None:
    """Sign of the signed area of a constant polygon, as the ``adql_poly_signed`` macro."""
    values = [constant_value(c) for c in coords or []]
    if not values or any(v is None for v in values):
        return None
    pts = [_unit_vector(values[i], values[i + 1]) for i in range(0, len(values), 2)]  # type: ignore[arg-type]
    a, total = pts[0], 0.0
    for b, c in zip(pts, pts[1:] + pts[:1], strict=True):
        cross = (b[1] * c[2] - b[2] * c[1], b[2] * c[0] - b[0] * c[2], b[0] * c[1] - b[1] * c[0])
        triple = a[0] * cross[0] + a[1] * cross[1] + a[2] * cross[2]
        dots = 1 + sum(x * y for x, y in zip(a, b, strict=True))
        dots += sum(x * y for x, y in zip(b, c, strict=True))
        dots += sum(x * y for x, y in zip(c, a, strict=True))
        total += 2 * math.atan2(triple, dots)
    return 0.0 if total == 0 else math.copysign(1.0, total)


def _unit_factor(source: str, target: str) -> float:
    from astropy import units as u  # heavy import, only for IN_UNIT

    try:
        return float(u.Unit(source).to(u.Unit(target)))
    except (ValueError, u.UnitConversionError) as exc:
        raise AdqlError(f"IN_UNIT: cannot convert '{source}' to '{target}': {exc}") from exc
