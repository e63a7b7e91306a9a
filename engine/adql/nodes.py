"""ADQL-specific expression nodes (geometry, IN_UNIT, TRUNCATE) for the sqlglot tree.

Every class is an ``exp.Func`` so that sqlglot walks, copies and compares it like any
other node. Attributes, for pattern matching by the planner:

``Point(this=ra, expression=dec, coordsys=Literal|Null|None)``
    ``ra``/``dec`` in degrees.
``Circle(this=center, expression=radius, coordsys=...)``
    ``center`` is a :class:`Point` when written with coordinates, otherwise any
    point-valued expression (a column, ``POINT(...)``...).
``Box(this=center, width=..., height=..., coordsys=...)``
    ADQL 2.0 box; deprecated in 2.1 but accepted.
``Polygon(expressions=[Point, ...], coordsys=...)``
    At least three vertices, great-circle edges.
``Contains(this=inner, expression=outer)``, ``Intersects(this=a, expression=b)``
    Integer 1/0 functions; ``CONTAINS(POINT, CIRCLE) = 1`` is the cone search.
``Distance(this=point_a, expression=point_b)``
    The four-number form ``DISTANCE(ra1, dec1, ra2, dec2)`` is normalised into two
    :class:`Point` nodes.
``Area(this=geom)``, ``Centroid(this=geom)``, ``Coord1(this=point)``,
``Coord2(this=point)``, ``CoordSys(this=geom)``, ``Region(this=string)``
    ``REGION`` parses but is refused by translation.
``InUnit(this=value, expression=unit_literal)``
    ADQL 2.1 ``IN_UNIT``; see :func:`engine.adql.translate.to_duckdb`.
``Truncate(this=x, decimals=n|None)``
    ADQL ``TRUNCATE(x[, n])``.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlglot import exp


class Point(exp.Expression, exp.Func):
    """``POINT([coordsys,] ra, dec)``."""

    arg_types = {"this": True, "expression": True, "coordsys": False}  # noqa: RUF012


class Circle(exp.Expression, exp.Func):
    """``CIRCLE([coordsys,] ra, dec, radius)`` or ``CIRCLE([coordsys,] point, radius)``."""

    arg_types = {"this": True, "expression": True, "coordsys": False}  # noqa: RUF012
    is_var_len_args = True


class Box(exp.Expression, exp.Func):
    """``BOX([coordsys,] ra, dec, width, height)`` (ADQL 2.0)."""

    arg_types = {"this": True, "width": True, "height": True, "coordsys": False}  # noqa: RUF012
    is_var_len_args = True


class Polygon(exp.Expression, exp.Func):
    """``POLYGON([coordsys,] ra1, dec1, ra2, dec2, ra3, dec3, ...)`` or of points."""

    arg_types = {"expressions": True, "coordsys": False}  # noqa: RUF012
    is_var_len_args = True


class Contains(exp.Expression, exp.Func):
    """``CONTAINS(inner, outer)``: 1 when ``inner`` lies within ``outer``."""

    arg_types = {"this": True, "expression": True}  # noqa: RUF012


class Intersects(exp.Expression, exp.Func):
    """``INTERSECTS(a, b)``: 1 when the two regions overlap."""

    arg_types = {"this": True, "expression": True}  # noqa: RUF012


class Distance(exp.Expression, exp.Func):
    """``DISTANCE(p1, p2)``: great-circle distance in degrees."""

    arg_types = {"this": True, "expression": True}  # noqa: RUF012
    is_var_len_args = True


class Area(exp.Expression, exp.Func):
    """``AREA(geom)`` in square degrees."""

    arg_types = {"this": True}  # noqa: RUF012


class Centroid(exp.Expression, exp.Func):
    """``CENTROID(geom)`` (ADQL 2.0; a point)."""

    arg_types = {"this": True}  # noqa: RUF012


class Coord1(exp.Expression, exp.Func):
    """``COORD1(point)``: the right ascension."""

    arg_types = {"this": True}  # noqa: RUF012


class Coord2(exp.Expression, exp.Func):
    """``COORD2(point)``: the declination."""

    arg_types = {"this": True}  # noqa: RUF012


class CoordSys(exp.Expression, exp.Func):
    """``COORDSYS(geom)``: always ``'ICRS'`` here."""

    arg_types = {"this": True}  # noqa: RUF012


class Region(exp.Expression, exp.Func):
    """``REGION(string)`` (ADQL 2.0 STC-S); parsed, refused at translation."""

    arg_types = {"this": True}  # noqa: RUF012


class InUnit(exp.Expression, exp.Func):
    """``IN_UNIT(value, 'unit')``: the value converted to another unit."""

    arg_types = {"this": True, "expression": True}  # noqa: RUF012


class Truncate(exp.Expression, exp.Func):
    """``TRUNCATE(x[, n])``: ``x`` truncated to ``n`` decimals (towards zero)."""

    arg_types = {"this": True, "decimals": False}  # noqa: RUF012


class OctetLength(exp.Expression, exp.Func):
    """``OCTET_LENGTH(s)``: length of ``s`` in bytes (UTF-8)."""

    arg_types = {"this": True}  # noqa: RUF012


GEOMETRY_TYPES: tuple[type[exp.Expr], ...] = (
    Point,
    Circle,
    Box,
    Polygon,
    Centroid,
    Region,
)
"""Nodes whose value is a geometry (not usable with ``||``, arithmetic or as a predicate)."""


def geometry_xtype(expr: exp.Expr) -> str | None:
    """Return the DALI xtype (``point``, ``circle``, ``polygon``) of an output expression.

    Parameters
    ----------
    expr
        A select-list expression from :func:`engine.adql.parse.parse_adql`; an alias is
        looked through.

    Returns
    -------
    str or None
        ``None`` when the expression is not a geometry constructor (e.g. a plain column:
        the planner knows column xtypes from the catalog).

    Examples
    --------
    >>> geometry_xtype(Point(this=exp.Literal.number(1), expression=exp.Literal.number(2)))
    'point'
    """
    while isinstance(expr, (exp.Alias, exp.Paren)):
        expr = expr.this
    if isinstance(expr, (Point, Centroid)):
        return "point"
    if isinstance(expr, Circle):
        return "circle"
    if isinstance(expr, (Polygon, Box)):
        return "polygon"
    return None


class ValueMetadata(NamedTuple):
    """What an output expression says about its values: DALI xtype, VOUnit and UCD."""

    xtype: str | None = None
    unit: str = ""
    ucd: str = ""


_GEOMETRY_UCD = {"point": "pos.eq", "circle": "pos.outline", "polygon": "pos.outline"}


def value_metadata(expr: exp.Expr) -> ValueMetadata:
    """Return the xtype, unit and UCD of a computed output expression (ADQL geometry).

    Geometry values are in degrees (ICRS); ``DISTANCE``, ``COORD1`` and ``COORD2`` give
    degrees, ``AREA`` square degrees, and ``IN_UNIT(x, 'u')`` the unit ``u``. Anything
    else (arithmetic, other functions) has no known unit.

    Examples
    --------
    >>> one, two = exp.Literal.number(1), exp.Literal.number(2)
    >>> value_metadata(Point(this=one, expression=two))
    ValueMetadata(xtype='point', unit='deg', ucd='pos.eq')
    >>> value_metadata(Area(this=Circle(this=Point(this=one, expression=two), expression=one)))
    ValueMetadata(xtype=None, unit='deg**2', ucd='phys.angArea')
    """
    while isinstance(expr, (exp.Alias, exp.Paren)):
        expr = expr.this
    xtype = geometry_xtype(expr)
    if xtype is not None:
        return ValueMetadata(xtype, "deg", _GEOMETRY_UCD[xtype])
    if isinstance(expr, Distance):
        return ValueMetadata(unit="deg", ucd="pos.angDistance")
    if isinstance(expr, Coord1):
        return ValueMetadata(unit="deg", ucd="pos.eq.ra")
    if isinstance(expr, Coord2):
        return ValueMetadata(unit="deg", ucd="pos.eq.dec")
    if isinstance(expr, Area):
        return ValueMetadata(unit="deg**2", ucd="phys.angArea")
    if isinstance(expr, InUnit) and isinstance(expr.expression, exp.Literal) \
            and expr.expression.is_string:
        return ValueMetadata(unit=expr.expression.this)
    return ValueMetadata()


def constant_value(expr: exp.Expr | None) -> float | None:
    """Fold a numeric constant expression (literals, unary minus, + - * /, parentheses).

    Parameters
    ----------
    expr
        Any expression, or ``None``.

    Returns
    -------
    float or None
        The value, or ``None`` when the expression is not a numeric constant.

    Examples
    --------
    >>> from sqlglot import parse_one
    >>> constant_value(parse_one("-(1 + 2) * 0.5"))
    -1.5
    >>> constant_value(parse_one("ra + 1")) is None
    True
    """
    if expr is None:
        return None
    if isinstance(expr, exp.Paren):
        return constant_value(expr.this)
    if isinstance(expr, exp.Literal):
        if expr.is_string:
            return None
        try:
            return float(expr.this)
        except ValueError:
            return None
    if isinstance(expr, exp.Neg):
        value = constant_value(expr.this)
        return None if value is None else -value
    if isinstance(expr, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
        left, right = constant_value(expr.this), constant_value(expr.expression)
        if left is None or right is None:
            return None
        if isinstance(expr, exp.Add):
            return left + right
        if isinstance(expr, exp.Sub):
            return left - right
        if isinstance(expr, exp.Mul):
            return left * right
        return None if right == 0 else left / right
    return None
