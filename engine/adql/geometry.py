"""ADQL spherical geometry as DuckDB SQL macros (no Python UDFs: evaluated per row by DuckDB).

Representation (DALI): a geometry value is a ``DOUBLE[]`` in ICRS degrees,
``[ra, dec]`` for a point, ``[ra, dec, radius]`` for a circle and
``[ra1, dec1, ra2, dec2, ...]`` (at least 3 vertices, great-circle edges) for a polygon;
the length tells them apart.

Conventions:

- distances use the haversine with ``atan2`` (accurate for tiny and near-antipodal
  separations, at the poles and across RA 0/360; no ``acos``);
- a polygon's interior is the smaller of the two regions its edges bound, whatever the
  vertex order (its orientation is the sign of its signed area);
- point-in-polygon uses the winding number of the vertices as seen from the point
  (bearings on the sphere), so non-convex polygons work; points exactly on an edge are
  undefined;
- ``INTERSECTS`` of a circle or polygon with a polygon, and ``CONTAINS`` with a polygon as
  the first argument, are best effort: they test vertices and centres, not edge crossings
  (two polygons crossing like a plus sign without a vertex inside the other are missed).
"""

from __future__ import annotations

_VERTICES = "range(1, len(p) // 2 + 1)"
_NEXT = "(i % (len(p) // 2))"

GEOMETRY_MACROS: list[str] = [
    # x limited to [lo, hi], NULL stays NULL (DuckDB's least/greatest skip NULLs: a
    # DISTANCE to a NULL position would come out as 180 degrees)
    "CREATE OR REPLACE MACRO adql_clamp(x, lo, hi) AS "
    "CASE WHEN x < lo THEN lo WHEN x > hi THEN hi ELSE x END",
    # x when both coordinates are known, else NULL (a point with a NULL coordinate is NULL)
    "CREATE OR REPLACE MACRO adql_if_known(x, ra, dec) AS "
    "CASE WHEN ra IS NULL OR dec IS NULL THEN NULL ELSE x END",
    # a geometry value, or NULL when one of its numbers is (list_sum would skip them)
    "CREATE OR REPLACE MACRO adql_complete(g) AS "
    "CASE WHEN list_count(g) < len(g) THEN NULL ELSE g END",
    # haversine "a" term between two positions (degrees)
    "CREATE OR REPLACE MACRO adql_hav(ra1, dec1, ra2, dec2) AS "
    "pow(sin(radians(dec2 - dec1) / 2), 2) "
    "+ cos(radians(dec1)) * cos(radians(dec2)) * pow(sin(radians(ra2 - ra1) / 2), 2)",
    # great-circle distance in degrees
    "CREATE OR REPLACE MACRO adql_dist(ra1, dec1, ra2, dec2) AS "
    "degrees(2 * atan2(sqrt(adql_clamp(adql_hav(ra1, dec1, ra2, dec2), 0.0, 1.0)), "
    "sqrt(adql_clamp(1.0 - adql_hav(ra1, dec1, ra2, dec2), 0.0, 1.0))))",
    # point within r degrees of a centre: compares haversines, no inverse trigonometry
    "CREATE OR REPLACE MACRO adql_in_circle(ra, dec, cra, cdec, r) AS "
    "r >= 0 AND adql_hav(ra, dec, cra, cdec) <= pow(sin(radians(least(r, 180.0)) / 2), 2)",
    # bearing (radians, east of north) from (ra, dec) towards (vra, vdec)
    "CREATE OR REPLACE MACRO adql_bearing(ra, dec, vra, vdec) AS "
    "atan2(sin(radians(vra - ra)) * cos(radians(vdec)), "
    "cos(radians(dec)) * sin(radians(vdec)) "
    "- sin(radians(dec)) * cos(radians(vdec)) * cos(radians(vra - ra)))",
    "CREATE OR REPLACE MACRO adql_wrap_pi(x) AS x - 2 * pi() * floor((x + pi()) / (2 * pi()))",
    # winding number (-1, 0, 1) of polygon p around the point (ra, dec)
    "CREATE OR REPLACE MACRO adql_winding(ra, dec, p) AS "
    "round(list_sum([adql_wrap_pi("
    f"adql_bearing(ra, dec, p[2 * {_NEXT} + 1], p[2 * {_NEXT} + 2]) "
    f"- adql_bearing(ra, dec, p[2 * i - 1], p[2 * i])) FOR i IN {_VERTICES}]) / (2 * pi()))",
    # unit-vector sums of the vertices
    "CREATE OR REPLACE MACRO adql_sx(p) AS list_sum([cos(radians(p[2 * i])) "
    f"* cos(radians(p[2 * i - 1])) FOR i IN {_VERTICES}])",
    "CREATE OR REPLACE MACRO adql_sy(p) AS list_sum([cos(radians(p[2 * i])) "
    f"* sin(radians(p[2 * i - 1])) FOR i IN {_VERTICES}])",
    "CREATE OR REPLACE MACRO adql_sz(p) AS "
    f"list_sum([sin(radians(p[2 * i])) FOR i IN {_VERTICES}])",
    # polygon centre: direction of the mean vertex vector, as [ra, dec]
    "CREATE OR REPLACE MACRO adql_poly_center(p) AS "
    "[((degrees(atan2(adql_sy(p), adql_sx(p))) % 360.0) + 360.0) % 360.0, "
    "degrees(atan2(adql_sz(p), sqrt(pow(adql_sx(p), 2) + pow(adql_sy(p), 2))))]",
    # signed solid angle of the spherical triangle (a, b, c) given as unit vectors
    "CREATE OR REPLACE MACRO adql_tri(a1, a2, a3, b1, b2, b3, c1, c2, c3) AS "
    "2 * atan2(a1 * (b2 * c3 - b3 * c2) + a2 * (b3 * c1 - b1 * c3) + a3 * (b1 * c2 - b2 * c1), "
    "1 + a1 * b1 + a2 * b2 + a3 * b3 + b1 * c1 + b2 * c2 + b3 * c3 + c1 * a1 + c2 * a2 + c3 * a3)",
    "CREATE OR REPLACE MACRO adql_ux(ra, dec) AS cos(radians(dec)) * cos(radians(ra))",
    "CREATE OR REPLACE MACRO adql_uy(ra, dec) AS cos(radians(dec)) * sin(radians(ra))",
    "CREATE OR REPLACE MACRO adql_uz(ra, dec) AS sin(radians(dec))",
    # signed area (steradians) of polygon p: fan of triangles from its first vertex; the
    # sign tells the orientation around the smaller region
    "CREATE OR REPLACE MACRO adql_poly_signed(p) AS list_sum([adql_tri("
    "adql_ux(p[1], p[2]), adql_uy(p[1], p[2]), adql_uz(p[1], p[2]), "
    "adql_ux(p[2 * i - 1], p[2 * i]), adql_uy(p[2 * i - 1], p[2 * i]), "
    "adql_uz(p[2 * i - 1], p[2 * i]), "
    f"adql_ux(p[2 * {_NEXT} + 1], p[2 * {_NEXT} + 2]), "
    f"adql_uy(p[2 * {_NEXT} + 1], p[2 * {_NEXT} + 2]), "
    f"adql_uz(p[2 * {_NEXT} + 1], p[2 * {_NEXT} + 2])) FOR i IN {_VERTICES}])",
    # point in polygon given the polygon's orientation sign s (+1/-1): a point inside the
    # smaller region sees the boundary wind once, against the orientation
    "CREATE OR REPLACE MACRO adql_in_polygon_s(ra, dec, p, s) AS "
    "adql_winding(ra, dec, p) * s = -1",
    "CREATE OR REPLACE MACRO adql_in_polygon(ra, dec, p) AS "
    "adql_in_polygon_s(ra, dec, p, sign(adql_poly_signed(p)))",
    # polygon area in square degrees (the smaller region)
    "CREATE OR REPLACE MACRO adql_poly_area(p) AS abs(adql_poly_signed(p)) * pow(180.0 / pi(), 2)",
    "CREATE OR REPLACE MACRO adql_circle_area(r) AS "
    "2 * pi() * (1 - cos(radians(adql_clamp(r, 0.0, 180.0)))) * pow(180.0 / pi(), 2)",
    # generic forms for geometry values whose kind is only known at run time
    "CREATE OR REPLACE MACRO adql_center(g) AS "
    "CASE WHEN len(g) <= 3 THEN [g[1], g[2]] ELSE adql_poly_center(g) END",
    "CREATE OR REPLACE MACRO adql_area(g) AS CASE WHEN len(g) = 2 THEN 0.0 "
    "WHEN len(g) = 3 THEN adql_circle_area(g[3]) ELSE adql_poly_area(g) END",
    "CREATE OR REPLACE MACRO adql_distance(a, b) AS "
    "adql_dist(adql_center(a)[1], adql_center(a)[2], adql_center(b)[1], adql_center(b)[2])",
    "CREATE OR REPLACE MACRO adql_contains_point(ra, dec, g) AS "
    "CASE WHEN len(g) = 2 THEN adql_hav(ra, dec, g[1], g[2]) = 0 "
    "WHEN len(g) = 3 THEN adql_in_circle(ra, dec, g[1], g[2], g[3]) "
    "ELSE adql_in_polygon(ra, dec, g) END",
    "CREATE OR REPLACE MACRO adql_all_in(p, g) AS "
    f"list_bool_and([adql_contains_point(p[2 * i - 1], p[2 * i], g) FOR i IN {_VERTICES}])",
    "CREATE OR REPLACE MACRO adql_any_in(p, g) AS "
    f"list_bool_or([adql_contains_point(p[2 * i - 1], p[2 * i], g) FOR i IN {_VERTICES}])",
    "CREATE OR REPLACE MACRO adql_contains(a, b) AS "
    "CASE WHEN len(a) = 2 THEN adql_contains_point(a[1], a[2], b) "
    "WHEN len(a) = 3 AND len(b) = 3 THEN adql_dist(a[1], a[2], b[1], b[2]) + a[3] <= b[3] "
    "WHEN len(a) = 3 THEN adql_in_polygon(a[1], a[2], b) AND list_min([adql_dist("
    "a[1], a[2], b[2 * i - 1], b[2 * i]) FOR i IN range(1, len(b) // 2 + 1)]) >= a[3] "
    "ELSE adql_all_in(a, b) END",
    "CREATE OR REPLACE MACRO adql_intersects(a, b) AS "
    "CASE WHEN len(a) = 2 THEN adql_contains_point(a[1], a[2], b) "
    "WHEN len(b) = 2 THEN adql_contains_point(b[1], b[2], a) "
    "WHEN len(a) = 3 AND len(b) = 3 THEN adql_dist(a[1], a[2], b[1], b[2]) <= a[3] + b[3] "
    "WHEN len(a) = 3 THEN adql_in_polygon(a[1], a[2], b) OR adql_any_in(b, a) "
    "WHEN len(b) = 3 THEN adql_in_polygon(b[1], b[2], a) OR adql_any_in(a, b) "
    "ELSE adql_any_in(a, b) OR adql_any_in(b, a) END",
]
"""``CREATE MACRO`` statements to run once per DuckDB connection before translated
queries; every name starts with ``adql_``."""
