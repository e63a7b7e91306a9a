"""Small ADQL builders: quoted identifiers, escaped literals, cone and cross-match queries.

User-supplied names and values never reach the query text unescaped: identifiers go
through :func:`identifier` (double-quoted when they are not plain names) and values
through :func:`literal` (numbers checked finite, strings with doubled quotes).

>>> print(cone_query("sky.object", "ra", "dec", ra_deg=10.0, dec_deg=-5.0, radius_deg=0.1))
SELECT * FROM sky.object WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 10.0, -5.0, 0.1))
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence

from qserv_access.errors import QueryRejected

__all__ = [
    "CHILD_LINKS_QUERY",
    "box_query",
    "child_query",
    "cone_query",
    "crossmatch_query",
    "id_query",
    "identifier",
    "literal",
    "polygon_query",
    "table_name",
]

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_RESERVED_TEXT = """
ABS ACOS ALL ALLOCATE ALTER AND ANY ARE AREA AS ASC ASIN ATAN ATAN2 AVG BETWEEN BIT_LENGTH BOTH
BOX BY CASE CAST CEILING CENTROID CHAR CHARACTER CHECK CIRCLE COALESCE COLLATE COLUMN CONTAINS
COORD1 COORD2 COORDSYS COS COT COUNT CREATE CROSS CURRENT DATE DAY DECIMAL DECLARE DEFAULT
DEGREES DELETE DESC DISTANCE DISTINCT DOUBLE DROP ELSE END ESCAPE EXCEPT EXISTS EXP FALSE FLOAT
FLOOR FOR FOREIGN FROM FULL GROUP HAVING IN INNER INSERT INTEGER INTERSECT INTERSECTS INTERVAL
INTO IS JOIN KEY LEADING LEFT LIKE LIMIT LOG LOG10 LOWER MAX MIN MOD NATURAL NOT NULL OFFSET ON
OR ORDER OUTER PI POINT POLYGON POSITION POWER PRIMARY RADIANS RAND REGION RIGHT ROUND SELECT SET
SIN SQRT SUM TABLE TAN THEN TO TOP TRAILING TRUE TRUNCATE UNION UNIQUE UPDATE UPPER USING VALUE
VALUES WHEN WHERE WITH
"""
RESERVED = frozenset(_RESERVED_TEXT.split())
"""ADQL 2.1 and SQL-92 reserved words (the subset a column or table is likely to be named)."""


def identifier(name: str) -> str:
    """Return ``name`` as an ADQL identifier, double-quoted unless it is a plain name.

    Examples
    --------
    >>> identifier("g_mag"), identifier("size"), identifier("select"), identifier('a"b')
    ('g_mag', 'size', '"select"', '"a""b"')
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise QueryRejected(f"Invalid column or table name {name!r}.")
    if _PLAIN.match(name) and name.upper() not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def table_name(name: str) -> str:
    """Return a possibly qualified table name (``schema.table``) with each part quoted as needed.

    Examples
    --------
    >>> table_name("dp1.Object"), table_name("TAP_UPLOAD.t")
    ('dp1.Object', 'TAP_UPLOAD.t')
    """
    parts = name.split(".")
    if len(parts) > 3 or not all(parts):
        raise QueryRejected(f"Invalid table name {name!r}; expected 'schema.table'.")
    return ".".join(identifier(p) for p in parts)


def literal(value: object) -> str:
    """Return ``value`` as an ADQL literal: a finite number, a string or NULL.

    Examples
    --------
    >>> literal(3), literal(0.5), literal("O'Brien"), literal(None)
    ('3', '0.5', "'O''Brien'", 'NULL')
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float) or (hasattr(value, "__float__") and not isinstance(value, str)):
        number = float(value)  # type: ignore[arg-type,unused-ignore]
        if not math.isfinite(number):
            raise QueryRejected(f"Value {value!r} is not a finite number.")
        return repr(number)
    if isinstance(value, str):
        if "\x00" in value:
            raise QueryRejected("Text values cannot contain NUL characters.")
        return "'" + value.replace("'", "''") + "'"
    raise QueryRejected(f"Cannot use a {type(value).__name__} as an ADQL value: {value!r}.")


def select_list(columns: Sequence[str] | None, alias: str | None = None) -> str:
    """Return ``*`` or the quoted, comma-separated ``columns`` (qualified by ``alias``)."""
    if columns is None:
        return f"{alias}.*" if alias else "*"
    if isinstance(columns, str):
        columns = [columns]
    if not columns:
        raise QueryRejected("columns is empty; give at least one column name or None for all.")
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + identifier(c) for c in columns)


def _top(maxrec: int | None) -> str:
    return "" if maxrec is None else f"TOP {int(maxrec)} "


def cone_query(table: str, ra_column: str, dec_column: str, *, ra_deg: float, dec_deg: float,
               radius_deg: float, columns: Sequence[str] | None = None,
               top: int | None = None) -> str:
    """Return the ADQL selecting the rows of ``table`` within ``radius_deg`` of a position."""
    _check_position(ra_deg, dec_deg)
    _check_radius(radius_deg)
    ra, dec = identifier(ra_column), identifier(dec_column)
    return (f"SELECT {_top(top)}{select_list(columns)} FROM {table_name(table)} "
            f"WHERE 1 = CONTAINS(POINT('ICRS', {ra}, {dec}), "
            f"CIRCLE('ICRS', {literal(ra_deg)}, {literal(dec_deg)}, {literal(radius_deg)}))")


def crossmatch_query(left: str, left_ra: str, left_dec: str, right: str, right_ra: str,
                     right_dec: str, *, radius_deg: float,
                     left_columns: Sequence[str] | None = None,
                     right_columns: Sequence[str] | None = None,
                     top: int | None = None) -> str:
    """Return the ADQL pairing rows of ``left`` (alias ``u``) with ``right`` (alias ``c``).

    Every pair closer than ``radius_deg`` is returned, with its separation in a
    ``match_dist_arcsec`` column.
    """
    _check_radius(radius_deg)
    lra, ldec = f"u.{identifier(left_ra)}", f"u.{identifier(left_dec)}"
    rra, rdec = f"c.{identifier(right_ra)}", f"c.{identifier(right_dec)}"
    dist = f"DISTANCE(POINT('ICRS', {lra}, {ldec}), POINT('ICRS', {rra}, {rdec}))"
    return (f"SELECT {_top(top)}{select_list(left_columns, 'u')}, "
            f"{select_list(right_columns, 'c')}, 3600.0 * {dist} AS match_dist_arcsec "
            f"FROM {table_name(left)} AS u JOIN {table_name(right)} AS c "
            f"ON 1 = CONTAINS(POINT('ICRS', {rra}, {rdec}), "
            f"CIRCLE('ICRS', {lra}, {ldec}, {literal(radius_deg)}))")


def box_query(table: str, ra_column: str, dec_column: str, *, ra_deg: float, dec_deg: float,
              width_deg: float, height_deg: float,
              columns: Sequence[str] | None = None) -> str:
    """Return the ADQL selecting the rows of ``table`` inside a BOX.

    Examples
    --------
    >>> text = box_query("hip.main", "ra", "dec", ra_deg=10.0, dec_deg=5.0, width_deg=2.0,
    ...                  height_deg=1.0, columns=["hip"])
    >>> print(text.replace(" WHERE", "\\nWHERE"))
    SELECT hip FROM hip.main
    WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), BOX('ICRS', 10.0, 5.0, 2.0, 1.0))
    """
    _check_position(ra_deg, dec_deg)
    _check_radius(width_deg)
    _check_radius(height_deg)
    ra, dec = identifier(ra_column), identifier(dec_column)
    return (f"SELECT {select_list(columns)} FROM {table_name(table)} "
            f"WHERE 1 = CONTAINS(POINT('ICRS', {ra}, {dec}), BOX('ICRS', {literal(ra_deg)}, "
            f"{literal(dec_deg)}, {literal(width_deg)}, {literal(height_deg)}))")


def polygon_query(table: str, ra_column: str, dec_column: str,
                  vertices: Sequence[tuple[float, float]], *,
                  columns: Sequence[str] | None = None) -> str:
    """Return the ADQL selecting the rows of ``table`` inside a POLYGON.

    Examples
    --------
    >>> text = polygon_query("hip.main", "ra", "dec", [(0, 0), (1, 0), (0, 1)])
    >>> print(text.replace(" WHERE", "\\nWHERE"))
    SELECT * FROM hip.main
    WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), POLYGON('ICRS', 0.0, 0.0, 1.0, 0.0, 0.0, 1.0))
    """
    for ra_deg, dec_deg in vertices:
        _check_position(float(ra_deg), float(dec_deg))
    coords = ", ".join(f"{literal(float(r))}, {literal(float(d))}" for r, d in vertices)
    ra, dec = identifier(ra_column), identifier(dec_column)
    return (f"SELECT {select_list(columns)} FROM {table_name(table)} "
            f"WHERE 1 = CONTAINS(POINT('ICRS', {ra}, {dec}), POLYGON('ICRS', {coords}))")


CHILD_LINKS_QUERY = (
    "SELECT k.target_table, k.from_table, c.from_column, c.target_column "
    "FROM TAP_SCHEMA.keys AS k JOIN TAP_SCHEMA.key_columns AS c ON k.key_id = c.key_id")
"""Every director/child pair (a foreign key from the child to its director)."""


def child_query(director: str, director_id: str, child: str, child_key: str,
                object_id: object, *, order_by: str,
                columns: Sequence[str] | None = None) -> str:
    """Return the ADQL joining one director row to its child rows, ordered by ``order_by``.

    The constraint is on the director's id, so the id index finds its one partition,
    where the child rows are placed too.

    Examples
    --------
    >>> text = child_query("lc.object", "object_id", "lc.source", "object_id", 7,
    ...                    order_by="mjd")
    >>> print(text.replace(" JOIN", "\\nJOIN").replace(" WHERE", "\\nWHERE"))
    SELECT s.* FROM lc.object AS o
    JOIN lc.source AS s ON s.object_id = o.object_id
    WHERE o.object_id = 7 ORDER BY s.mjd
    """
    return (f"SELECT {select_list(columns, 's')} FROM {table_name(director)} AS o "
            f"JOIN {table_name(child)} AS s ON s.{identifier(child_key)} = "
            f"o.{identifier(director_id)} WHERE o.{identifier(director_id)} = "
            f"{literal(object_id)} ORDER BY s.{identifier(order_by)}")


def id_query(table: str, id_column: str, ids: Sequence[object], *,
             columns: Sequence[str] | None = None) -> str:
    """Return the ADQL selecting the rows whose ``id_column`` is one of ``ids``."""
    if not ids:
        raise QueryRejected("ids is empty; give at least one id.")
    values = ", ".join(literal(v) for v in ids)
    return (f"SELECT {select_list(columns)} FROM {table_name(table)} "
            f"WHERE {identifier(id_column)} IN ({values})")


def _check_position(ra_deg: float, dec_deg: float) -> None:
    if not (math.isfinite(ra_deg) and math.isfinite(dec_deg)) or not -90 <= dec_deg <= 90:
        raise QueryRejected(
            f"Position ({ra_deg}, {dec_deg}) deg is not on the sky; dec must be within ±90.")


def _check_radius(radius_deg: float) -> None:
    if not math.isfinite(radius_deg) or radius_deg <= 0:
        raise QueryRejected(f"Radius {radius_deg} deg must be a positive number.")
