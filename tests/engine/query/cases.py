"""The differential query collection: templates x parameters, each with a readable id.

Every case is an ADQL query over the tables of ``conftest``; ``ordered`` cases have an
ORDER BY that fixes the order of all rows (ties broken by id), so rows compare in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One differential query."""

    id: str
    adql: str
    ordered: bool = False


CONES = {
    "north_pole": (0.0, 90.0, 1.0),
    "north_pole_tiny": (123.0, 89.99999, 0.001),
    "south_pole": (0.0, -90.0, 2.0),
    "seam_equator": (0.0, 0.0, 0.5),
    "seam_359": (359.999, -45.0, 0.05),
    "seam_wide": (359.5, 10.0, 12.0),
    "cluster": (150.0, 2.0, 0.1),
    "cluster_edge": (150.3, 2.2, 0.05),
    "huge_90deg": (45.0, 30.0, 90.0),
    "tiny": (150.0, 2.0, 1e-4),
    "empty": (200.0, -30.0, 1e-5),
}

CONE_FORMS = {
    "contains_eq_1": "CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, {r})) = 1",
    "one_eq_contains": "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, {r}))",
    "distance_4arg": "DISTANCE(ra, dec, {ra}, {dec}) < {r}",
    "distance_points": "DISTANCE(POINT(ra, dec), POINT({ra}, {dec})) <= {r}",
}

PROJECTIONS = {
    "ids": "id",
    "cols": "id, ra, dec, g_mag, flags",
    "star": "*",
}

BOXES = {
    "cluster": (150.0, 2.0, 0.5, 0.3),
    "seam": (0.0, 0.0, 2.0, 2.0),
    "near_pole": (10.0, 85.0, 20.0, 5.0),
    "wide": (100.0, -20.0, 40.0, 30.0),
}

POLYGONS = {
    "cluster_triangle": "149.8, 1.8, 150.3, 1.9, 150.0, 2.3",
    "seam_square": "359.0, -1.0, 1.0, -1.0, 1.0, 1.0, 359.0, 1.0",
    "near_pole": "0.0, 80.0, 120.0, 80.0, 240.0, 80.0",
    "south_quad": "10.0, -60.0, 60.0, -60.0, 60.0, -30.0, 10.0, -30.0",
}

PREDICATES = {
    "arith": "g_mag + r_mag > 40",
    "color_between": "g_mag - r_mag BETWEEN -1 AND 1",
    "not_between": "NOT (flags BETWEEN 10 AND 50)",
    "in_list": "flags IN (1, 2, 3, 60)",
    "not_in": "flags NOT IN (0, 1, 2)",
    "like": "name LIKE 'obj10%'",
    "ilike_upper": "UPPER(name) LIKE 'OBJ2%'",
    "is_null": "name IS NULL",
    "z_null": "z_mag IS NULL",
    "z_not_null": "z_mag IS NOT NULL AND z_mag > 20",
    "case": "CASE WHEN flags > 32 THEN 'hi' ELSE 'lo' END = 'hi'",
    "cast": "CAST(flags AS DOUBLE) / 2 > 10.5",
    "coalesce": "COALESCE(z_mag, -1) < 0",
    "abs_dec": "ABS(dec) > 80",
    "mod": "MOD(id, 3) = 0",
    "or_and": "(flags < 5 OR flags > 60) AND dec > 0",
    "trig": "SIN(RADIANS(dec)) > 0.5",
    "concat": "name || '_x' = 'obj1000_x'",
    "nullif": "NULLIF(flags, 7) IS NULL",
}

EXPRESSIONS = (
    "id, g_mag - r_mag AS color, ROUND(ra, 2) AS rra, "
    "CASE WHEN flags > 32 THEN 'hi' ELSE 'lo' END AS cls, COALESCE(z_mag, 0) AS z0, "
    "CAST(flags AS INTEGER) * 2 AS f2, LOWER(name) AS lname, "
    "POWER(g_mag, 2) + SQRT(ABS(dec)) AS mix, TRUNCATE(dec, 1) AS tdec"
)

CLUSTER = "CONTAINS(POINT(ra, dec), CIRCLE(150.0, 2.0, 0.1)) = 1"
SEAM = "CONTAINS(POINT(ra, dec), CIRCLE(0.0, 0.0, 0.5)) = 1"
POLE = "CONTAINS(POINT(ra, dec), CIRCLE(0.0, 90.0, 1.0)) = 1"
EMPTY = "CONTAINS(POINT(ra, dec), CIRCLE(200.0, -30.0, 0.00001)) = 1"
ALL_IDS = "1000, 1007, 2470, 4004, 14993, 5, 999999"

SRC_PINNED = {
    1021: (0.0011, 0.0),       # object at ra 359.9999999 on the equator: across the seam
    1035: (0.0003, -45.0),     # object at ra 359.999: across the seam
    1000: (45.0, 89.999),      # object on the north pole
    1014: (300.0, 89.9992),    # object 0.036 arcsec from the pole: across it
    1007: (200.0, -89.9989),   # object on the south pole
}
"""objectId -> (ra, dec) of the first row of ``sky.src`` for that object, 3-4 arcsec from
it and in another ``_healpix_29`` range (often another chunk): a small cone around the
source must find it although its object, where it is stored, lies outside the cone."""


def _cone(form: str, ra: float, dec: float, r: float) -> str:
    return CONE_FORMS[form].format(ra=ra, dec=dec, r=r)


def _qualified(predicate: str, alias: str) -> str:
    return re.sub(r"\b(ra|dec)\b", rf"{alias}.\1", predicate)


def region_cases() -> list[Case]:
    """Cones in every form at every special place, boxes, polygons, unions of regions."""
    cases = []
    for cone, (ra, dec, r) in CONES.items():
        for form in CONE_FORMS:
            for proj_name, proj in PROJECTIONS.items():
                if proj_name == "star" and form != "contains_eq_1":
                    continue
                cases.append(Case(f"cone-{cone}-{form}-{proj_name}",
                                  f"SELECT {proj} FROM sky.object WHERE "
                                  f"{_cone(form, ra, dec, r)}"))
        where = _cone("contains_eq_1", ra, dec, r)
        cases.append(Case(f"cone-{cone}-count",
                          f"SELECT COUNT(*) AS n, AVG(g_mag) AS g, MIN(id) AS lo "
                          f"FROM sky.object WHERE {where}"))
        cases.append(Case(f"cone-{cone}-not-contains",
                          f"SELECT COUNT(*) AS n FROM sky.object WHERE "
                          f"CONTAINS(POINT(ra, dec), CIRCLE({ra}, {dec}, {r})) = 0"))
        cases.append(Case(f"cone-{cone}-source",
                          f"SELECT source_id, object_id FROM sky.source WHERE {where}"))
        cases.append(Case(f"cone-{cone}-other",
                          f"SELECT id, ra, dec FROM sky.other WHERE {where}"))
    for name, (ra, dec, w, h) in BOXES.items():
        box = f"CONTAINS(POINT(ra, dec), BOX({ra}, {dec}, {w}, {h})) = 1"
        cases.append(Case(f"box-{name}", f"SELECT id, ra, dec FROM sky.object WHERE {box}"))
        cases.append(Case(f"box-{name}-count", f"SELECT COUNT(*) AS n FROM sky.object WHERE {box}"))
    for name, verts in POLYGONS.items():
        poly = f"1 = CONTAINS(POINT(ra, dec), POLYGON({verts}))"
        cases.append(Case(f"polygon-{name}", f"SELECT id, ra, dec FROM sky.object WHERE {poly}"))
        cases.append(Case(f"polygon-{name}-source",
                          f"SELECT source_id FROM sky.source WHERE {poly}"))
    cases += [
        Case("or-cluster-seam", f"SELECT id FROM sky.object WHERE {CLUSTER} OR {SEAM}"),
        Case("or-three", f"SELECT id, dec FROM sky.object WHERE {CLUSTER} OR {SEAM} OR {POLE}"),
        Case("or-region-and-flag",
             f"SELECT id FROM sky.object WHERE ({CLUSTER} OR {POLE}) AND flags > 20"),
        Case("region-or-nonregion",
             f"SELECT id FROM sky.object WHERE {CLUSTER} OR flags = 3"),
        Case("region-and-region",
             f"SELECT id FROM sky.object WHERE {CLUSTER} AND "
             "CONTAINS(POINT(ra, dec), CIRCLE(150.05, 2.0, 0.08)) = 1"),
        Case("region-and-id",
             f"SELECT id, ra FROM sky.object WHERE {CLUSTER} AND id IN (2470, 2477, 3000, 1000)"),
        Case("region-and-id-outside",
             f"SELECT id FROM sky.object WHERE {SEAM} AND id = 1007"),
        Case("intersects-circle",
             "SELECT id FROM sky.object WHERE "
             "INTERSECTS(CIRCLE(150.0, 2.0, 0.1), POINT(ra, dec)) = 1"),
        Case("region-in-select",
             "SELECT id, DISTANCE(POINT(ra, dec), POINT(150.0, 2.0)) AS d FROM sky.object "
             f"WHERE {CLUSTER}"),
    ]
    return cases


def where_cases() -> list[Case]:
    """Plain predicates, alone and with a region, and computed projections."""
    cases = []
    for name, pred in PREDICATES.items():
        cases.append(Case(f"where-{name}", f"SELECT id, flags, name FROM sky.object WHERE {pred}"))
        cases.append(Case(f"where-{name}-count",
                          f"SELECT COUNT(*) AS n FROM sky.object WHERE {pred}"))
        cases.append(Case(f"where-{name}-cluster",
                          f"SELECT id FROM sky.object WHERE {CLUSTER} AND ({pred})"))
    cases += [
        Case("projection-expressions", f"SELECT {EXPRESSIONS} FROM sky.object"),
        Case("projection-expressions-pole", f"SELECT {EXPRESSIONS} FROM sky.object WHERE {POLE}"),
        Case("projection-all", "SELECT ALL id, name FROM sky.object"),
        Case("projection-literal", "SELECT id, 1 AS one, 'x' AS s, PI() AS p FROM sky.object"),
        Case("projection-table-star", "SELECT o.* FROM sky.object AS o WHERE o.flags = 5"),
        Case("projection-quoted", 'SELECT "id", "g_mag" AS "G" FROM sky.object WHERE flags = 9'),
        Case("projection-upper-case", "SELECT ID, Ra FROM SKY.OBJECT WHERE FLAGS = 9"),
        Case("projection-duplicate-names",
             "SELECT id, id, ra + 1, ra + 2 FROM sky.object WHERE flags = 1"),
        Case("geometry-funcs",
             "SELECT id, COORD1(POINT(ra, dec)) AS c1, COORD2(POINT(ra, dec)) AS c2 "
             f"FROM sky.object WHERE {SEAM}"),
    ]
    return cases


def id_cases() -> list[Case]:
    """Id lookups on the director and on the child through its director key."""
    return [
        Case("id-eq", "SELECT * FROM sky.object WHERE id = 1000"),
        Case("id-eq-last", "SELECT id, ra FROM sky.object WHERE id = 14993"),
        Case("id-eq-reversed", "SELECT id FROM sky.object WHERE 4004 = id"),
        Case("id-eq-missing", "SELECT id FROM sky.object WHERE id = 5"),
        Case("id-in", f"SELECT id, ra, dec FROM sky.object WHERE id IN ({ALL_IDS})"),
        Case("id-in-and-pred", f"SELECT id FROM sky.object WHERE id IN ({ALL_IDS}) AND flags > 10"),
        Case("id-or-id", "SELECT id FROM sky.object WHERE id = 1000 OR id = 1007"),
        Case("id-not-in", "SELECT COUNT(*) AS n FROM sky.object WHERE id NOT IN (1000, 1007)"),
        Case("id-eq-other-col-or", "SELECT id FROM sky.object WHERE id = 1000 OR flags = 2"),
        Case("child-key-eq", "SELECT source_id, object_id FROM sky.source WHERE object_id = 1000"),
        Case("child-key-in",
             f"SELECT source_id, mjd FROM sky.source WHERE object_id IN ({ALL_IDS})"),
        Case("child-key-missing", "SELECT source_id FROM sky.source WHERE object_id = 5"),
        Case("child-source-id", "SELECT * FROM sky.source WHERE source_id = 1000000010"),
        Case("join-director-id",
             "SELECT o.id, s.source_id FROM sky.object o JOIN sky.source s ON o.id = s.object_id "
             f"WHERE o.id IN ({ALL_IDS})"),
        Case("join-child-key",
             "SELECT o.id, s.source_id FROM sky.object o JOIN sky.source s ON o.id = s.object_id "
             "WHERE s.object_id = 2470"),
        Case("join-id-count",
             "SELECT o.id, COUNT(*) AS n FROM sky.object o JOIN sky.source s "
             "ON o.id = s.object_id WHERE o.id IN (1000, 1007) GROUP BY o.id"),
        Case("other-id", "SELECT id, ra FROM sky.other WHERE id = 5001000"),
    ]


SRC_JOIN = "sky.object o JOIN sky.src s ON o.id = s.objectId"


def src_cases() -> list[Case]:
    """A child with its own positions: lookups by director key and own id, joins, cones."""
    cases = [
        Case("src-key-eq", "SELECT sourceId, objectId, ra, dec FROM sky.src WHERE objectId = 1000"),
        Case("src-key-eq-seam", "SELECT * FROM sky.src WHERE objectId = 1021"),
        Case("src-key-eq-reversed", "SELECT sourceId FROM sky.src WHERE 1007 = objectId"),
        Case("src-key-in", f"SELECT sourceId, mjd FROM sky.src WHERE objectId IN ({ALL_IDS})"),
        Case("src-key-or", "SELECT sourceId FROM sky.src WHERE objectId = 1014 OR objectId = 2470"),
        Case("src-key-missing", "SELECT sourceId FROM sky.src WHERE objectId = 5"),
        Case("src-key-count", "SELECT COUNT(*) AS n, AVG(psfFlux) AS f FROM sky.src "
             f"WHERE objectId IN ({ALL_IDS})"),
        Case("src-light-curve", "SELECT mjd, psfFlux FROM sky.src WHERE objectId = 1035 "
             "ORDER BY mjd", True),
        Case("src-own-id", "SELECT * FROM sky.src WHERE sourceId = 2000000010"),
        Case("src-own-id-in", "SELECT sourceId, objectId FROM sky.src WHERE sourceId IN "
             "(2000000000, 2000000004, 2000005999, 7)"),
        Case("src-own-id-and-key", "SELECT sourceId FROM sky.src WHERE objectId = 1000 "
             "AND sourceId = 2000000001"),
        Case("src-own-id-and-other-key", "SELECT sourceId FROM sky.src WHERE objectId = 1000 "
             "AND sourceId = 2000000100"),
        Case("src-key-and-pred", "SELECT sourceId FROM sky.src WHERE objectId IN "
             f"({ALL_IDS}) AND psfFlux > 3000"),
        Case("src-join-director-id", f"SELECT o.id, s.sourceId FROM {SRC_JOIN} "
             f"WHERE o.id IN ({ALL_IDS})"),
        Case("src-join-child-key", f"SELECT o.id, s.sourceId, s.ra FROM {SRC_JOIN} "
             "WHERE s.objectId = 1021"),
        Case("src-join-agg", f"SELECT o.id, COUNT(*) AS n, MAX(s.mjd) AS m FROM {SRC_JOIN} "
             f"WHERE {_qualified(CLUSTER, 'o')} GROUP BY o.id"),
        Case("src-join-global", f"SELECT COUNT(*) AS n, SUM(s.psfFlux) AS f FROM {SRC_JOIN}"),
        Case("src-join-left", "SELECT o.id, s.sourceId FROM sky.object o LEFT JOIN sky.src s "
             f"ON o.id = s.objectId AND s.psfFlux > 9000 WHERE {_qualified(POLE, 'o')}"),
        Case("src-join-cone-on-child", f"SELECT o.id, s.sourceId FROM {SRC_JOIN} "
             f"WHERE {_qualified(SEAM, 's')}"),
        Case("src-join-cone-both", f"SELECT o.id, s.sourceId FROM {SRC_JOIN} "
             f"WHERE {_qualified(POLE, 's')} AND {_qualified(POLE, 'o')}"),
        Case("src-sub-in-director", "SELECT sourceId FROM sky.src WHERE objectId IN "
             f"(SELECT id FROM sky.object WHERE {POLE})"),
        Case("src-neighbours-of-object", "SELECT s.sourceId, o.id FROM sky.src s JOIN "
             "sky.object o ON DISTANCE(POINT(s.ra, s.dec), POINT(o.ra, o.dec)) < 6/3600. "
             f"WHERE {_qualified(SEAM, 'o')}"),
    ]
    for cone in ("north_pole", "north_pole_tiny", "south_pole", "seam_equator", "seam_359",
                 "seam_wide", "cluster_edge"):
        ra, dec, r = CONES[cone]
        cases.extend(Case(f"src-cone-{cone}-{form}", "SELECT sourceId, objectId FROM "
                          f"sky.src WHERE {_cone(form, ra, dec, r)}")
                     for form in ("contains_eq_1", "distance_4arg"))
    for object_id, (ra, dec) in SRC_PINNED.items():
        tiny = _cone("contains_eq_1", ra, dec, "1/3600.")
        cases.append(Case(f"src-pinned-{object_id}", f"SELECT sourceId, objectId FROM sky.src "
                          f"WHERE {tiny}"))
        cases.append(Case(f"src-pinned-{object_id}-count", "SELECT COUNT(*) AS n FROM "
                          f"sky.src WHERE {_cone('distance_points', ra, dec, '1.5/3600.')}"))
        cases.append(Case(f"src-pinned-{object_id}-key", "SELECT sourceId FROM sky.src "
                          f"WHERE objectId = {object_id} AND {tiny}"))
        cases.append(Case(f"src-pinned-{object_id}-join", f"SELECT o.id, s.sourceId FROM "
                          f"{SRC_JOIN} WHERE {_qualified(tiny, 's')}"))
    cases += [
        Case("src-box-seam", "SELECT sourceId FROM sky.src WHERE "
             "CONTAINS(POINT(ra, dec), BOX(0.0, 0.0, 0.01, 0.01)) = 1"),
        Case("src-polygon-pole", "SELECT sourceId FROM sky.src WHERE "
             "1 = CONTAINS(POINT(ra, dec), POLYGON(0.0, 89.9985, 120.0, 89.9985, "
             "240.0, 89.9985))"),
        Case("src-or-of-cones", "SELECT sourceId FROM sky.src WHERE "
             f"{_cone('contains_eq_1', 0.0011, 0.0, '1/3600.')} OR "
             f"{_cone('contains_eq_1', 45.0, 89.999, '1/3600.')}"),
    ]
    return cases


def order_cases() -> list[Case]:
    """TOP with ORDER BY on total keys, OFFSET, DISTINCT."""
    cases = [Case(f"top{n}-dec-desc",
                  f"SELECT TOP {n} id, ra, dec FROM sky.object ORDER BY dec DESC, id", True)
             for n in (1, 10, 100, 1999, 5000)]
    cases += [
        Case("top-gmag", "SELECT TOP 7 id, g_mag FROM sky.object ORDER BY g_mag, id", True),
        Case("top-id-desc", "SELECT TOP 5 * FROM sky.object ORDER BY id DESC", True),
        Case("top-alias", "SELECT TOP 9 id, g_mag - r_mag AS c FROM sky.object ORDER BY c, id",
             True),
        Case("top-position", "SELECT TOP 9 id, ra FROM sky.object ORDER BY 2 DESC, 1", True),
        Case("top-expression",
             "SELECT TOP 6 id, ra FROM sky.object ORDER BY ABS(dec) DESC, id", True),
        Case("top-nulls", "SELECT TOP 30 id, z_mag FROM sky.object ORDER BY z_mag, id", True),
        Case("top-region",
             f"SELECT TOP 12 id, ra FROM sky.object WHERE {CLUSTER} ORDER BY ra DESC, id", True),
        Case("top-no-order-count",
             "SELECT COUNT(*) AS n FROM (SELECT TOP 50 id FROM sky.object) t"),
        Case("order-all", "SELECT id, flags FROM sky.object ORDER BY flags, id", True),
        Case("order-name-desc", "SELECT id, name FROM sky.object ORDER BY name DESC, id", True),
        Case("offset", "SELECT id FROM sky.object ORDER BY id OFFSET 1990", True),
        Case("offset-past-end", "SELECT id FROM sky.object ORDER BY id OFFSET 5000", True),
        Case("top-offset", "SELECT TOP 5 id FROM sky.object ORDER BY id OFFSET 10", True),
        Case("top-offset-region",
             f"SELECT TOP 4 id, dec FROM sky.object WHERE {CLUSTER} ORDER BY dec, id OFFSET 3",
             True),
        Case("distinct-flags", "SELECT DISTINCT flags FROM sky.object"),
        Case("distinct-two", "SELECT DISTINCT flags, MOD(flags, 2) AS odd FROM sky.object"),
        Case("distinct-ordered", "SELECT DISTINCT flags FROM sky.object ORDER BY flags", True),
        Case("distinct-top", "SELECT DISTINCT TOP 5 flags FROM sky.object ORDER BY flags DESC",
             True),
        Case("distinct-child", "SELECT DISTINCT object_id FROM sky.source WHERE flux > 20000"),
        Case("top-no-order-rows", "SELECT COUNT(*) AS n FROM (SELECT TOP 777 id "
             "FROM sky.object WHERE dec > -30) AS t"),
        Case("order-desc-nulls", "SELECT id, z_mag FROM sky.object WHERE flags < 4 "
             "ORDER BY z_mag DESC, id", True),
        Case("distinct-order-offset-top", "SELECT DISTINCT TOP 3 MOD(flags, 10) AS m "
             "FROM sky.object ORDER BY m OFFSET 2", True),
        Case("order-by-unselected", "SELECT TOP 5 id FROM sky.object ORDER BY g_mag, id", True),
        Case("distinct-null-names", "SELECT DISTINCT name FROM sky.object WHERE flags = 1"),
    ]
    return cases


AGGREGATES = {
    "count_star": "COUNT(*)",
    "count_col": "COUNT(z_mag)",
    "count_distinct": "COUNT(DISTINCT flags)",
    "sum_int": "SUM(flags)",
    "sum_float": "SUM(g_mag)",
    "avg": "AVG(g_mag)",
    "avg_int": "AVG(flags)",
    "min_max": "MIN(ra), MAX(dec)",
    "min_str": "MIN(name)",
    "avg_expr": "AVG(g_mag - r_mag)",
    "sum_case": "SUM(CASE WHEN flags > 30 THEN 1 ELSE 0 END)",
}


def aggregate_cases() -> list[Case]:
    """Aggregates with and without GROUP BY, HAVING and ORDER BY aggregate."""
    cases = []
    for name, agg in AGGREGATES.items():
        cases.append(Case(f"agg-{name}", f"SELECT {agg} FROM sky.object"))
        cases.append(Case(f"agg-{name}-group",
                          f"SELECT flags, {agg} FROM sky.object GROUP BY flags"))
        cases.append(Case(f"agg-{name}-cluster", f"SELECT {agg} FROM sky.object WHERE {CLUSTER}"))
        cases.append(Case(f"agg-{name}-empty", f"SELECT {agg} FROM sky.object WHERE {EMPTY}"))
        cases.append(Case(f"agg-{name}-empty-group",
                          f"SELECT flags, {agg} FROM sky.object WHERE {EMPTY} GROUP BY flags"))
    cases += [
        Case("agg-group-expr", "SELECT MOD(flags, 4) AS b, COUNT(*) AS n FROM sky.object "
             "GROUP BY MOD(flags, 4)"),
        Case("agg-group-alias",
             "SELECT MOD(flags, 4) AS b, COUNT(*) AS n, AVG(ra) AS a FROM sky.object GROUP BY b"),
        Case("agg-group-position",
             "SELECT flags, COUNT(*) AS n FROM sky.object GROUP BY 1"),
        Case("agg-group-two", "SELECT flags, MOD(id, 2) AS p, COUNT(*) AS n, SUM(g_mag) AS s "
             "FROM sky.object GROUP BY flags, MOD(id, 2)"),
        Case("agg-group-null-key",
             "SELECT name, COUNT(*) AS n FROM sky.object WHERE flags < 3 GROUP BY name"),
        Case("agg-group-nan-key", "SELECT z_mag, COUNT(*) AS n FROM sky.object "
             "WHERE z_mag IS NULL OR z_mag <> z_mag GROUP BY z_mag"),
        Case("agg-having", "SELECT flags, COUNT(*) AS n FROM sky.object GROUP BY flags "
             "HAVING COUNT(*) > 33"),
        Case("agg-having-avg", "SELECT flags, AVG(g_mag) AS g FROM sky.object GROUP BY flags "
             "HAVING AVG(g_mag) > 19.5 AND MIN(dec) < 0"),
        Case("agg-having-no-select", "SELECT flags FROM sky.object GROUP BY flags "
             "HAVING MAX(g_mag) > 24"),
        Case("agg-order-by-agg", "SELECT flags, COUNT(*) AS n FROM sky.object GROUP BY flags "
             "ORDER BY n DESC, flags", True),
        Case("agg-order-by-agg-expr", "SELECT flags, COUNT(*) AS n FROM sky.object "
             "GROUP BY flags ORDER BY COUNT(*), flags", True),
        Case("agg-top-order", "SELECT TOP 5 flags, AVG(g_mag) AS g FROM sky.object "
             "GROUP BY flags ORDER BY g DESC, flags", True),
        Case("agg-order-offset", "SELECT flags, COUNT(*) AS n FROM sky.object GROUP BY flags "
             "ORDER BY flags OFFSET 60", True),
        Case("agg-expr-of-aggs", "SELECT flags, SUM(g_mag) / COUNT(*) AS m, "
             "MAX(dec) - MIN(dec) AS span FROM sky.object GROUP BY flags"),
        Case("agg-expr-of-aggs-global",
             "SELECT COUNT(*) + 1 AS n1, ROUND(AVG(ra), 3) AS a FROM sky.object"),
        Case("agg-count-distinct-group",
             "SELECT MOD(flags, 3) AS b, COUNT(DISTINCT flags) AS nd FROM sky.object GROUP BY b"),
        Case("agg-multi-count-distinct",
             "SELECT COUNT(DISTINCT flags) AS a, COUNT(DISTINCT name) AS b FROM sky.object"),
        Case("agg-distinct-sum", "SELECT SUM(DISTINCT flags) AS s FROM sky.object"),
        Case("agg-source-count", "SELECT COUNT(*) AS n, AVG(flux) AS f FROM sky.source"),
        Case("agg-source-group", "SELECT object_id, COUNT(*) AS n, MIN(mjd) AS m "
             "FROM sky.source WHERE object_id < 1200 GROUP BY object_id"),
        Case("agg-region-group", f"SELECT flags, COUNT(*) AS n FROM sky.object WHERE {POLE} "
             "GROUP BY flags"),
        Case("agg-sum-all-null", "SELECT SUM(z_mag) AS s, COUNT(z_mag) AS c FROM sky.object "
             "WHERE z_mag IS NULL"),
        Case("agg-group-having-count-distinct", "SELECT MOD(flags, 5) AS b, "
             "COUNT(DISTINCT flags) AS nd FROM sky.object GROUP BY MOD(flags, 5) "
             "HAVING COUNT(DISTINCT flags) > 12"),
        Case("agg-order-desc-nulls", "SELECT name, COUNT(*) AS n FROM sky.object "
             "WHERE flags < 2 GROUP BY name ORDER BY name DESC", True),
        Case("agg-avg-distinct", "SELECT AVG(DISTINCT flags) AS a FROM sky.object"),
        Case("agg-having-alias-order", "SELECT flags, MAX(dec) AS top_dec FROM sky.object "
             "GROUP BY flags HAVING MAX(dec) > 80 ORDER BY top_dec DESC", True),
        Case("agg-no-group-having", "SELECT COUNT(*) AS n FROM sky.object HAVING COUNT(*) > 5"),
        Case("agg-group-by-not-selected", "SELECT COUNT(*) AS n FROM sky.object GROUP BY flags"),
        Case("agg-top-group-no-order", "SELECT COUNT(*) AS n FROM (SELECT TOP 7 flags, "
             "COUNT(*) AS c FROM sky.object GROUP BY flags) AS t"),
        Case("agg-count-star-and-distinct-mix", "SELECT flags, COUNT(*) AS n, "
             "COUNT(DISTINCT MOD(id, 10)) AS d, SUM(g_mag) AS s FROM sky.object GROUP BY flags"),
        Case("agg-empty-having", f"SELECT COUNT(*) AS n FROM sky.object WHERE {EMPTY} "
             "HAVING COUNT(*) > 0"),
    ]
    return cases


JOIN = "sky.object o JOIN sky.source s ON o.id = s.object_id"


def join_cases() -> list[Case]:
    """Director-child joins, joins with the regular table, three-way joins."""
    cone = _qualified(CLUSTER, "o")
    pole = _qualified(POLE, "o")
    return [
        Case("join-inner-cone", f"SELECT o.id, s.source_id, s.flux FROM {JOIN} WHERE {cone}"),
        Case("join-inner-pole", f"SELECT o.id, s.source_id FROM {JOIN} WHERE {pole}"),
        Case("join-inner-child-region",
             f"SELECT o.id, s.source_id FROM {JOIN} WHERE {_qualified(SEAM, 's')}"),
        Case("join-inner-all-count", f"SELECT COUNT(*) AS n FROM {JOIN}"),
        Case("join-reversed-on", "SELECT COUNT(*) AS n FROM sky.object o JOIN sky.source s "
             "ON s.object_id = o.id WHERE s.flux > 5000"),
        Case("join-child-first",
             "SELECT s.source_id, o.ra FROM sky.source s JOIN sky.object o ON s.object_id = o.id "
             f"WHERE {cone}"),
        Case("join-comma", "SELECT o.id, s.source_id FROM sky.object o, sky.source s "
             f"WHERE o.id = s.object_id AND {cone}"),
        Case("join-left", "SELECT o.id, s.source_id FROM sky.object o LEFT JOIN sky.source s "
             f"ON o.id = s.object_id AND s.flux > 8000 WHERE {cone}"),
        Case("join-left-all-count", "SELECT COUNT(*) AS n, COUNT(s.source_id) AS m "
             "FROM sky.object o LEFT OUTER JOIN sky.source s ON o.id = s.object_id "
             "AND s.flux > 3000"),
        Case("join-agg-per-object", f"SELECT o.id, COUNT(*) AS n, AVG(s.flux) AS f, "
             f"MAX(s.mjd) AS last_mjd FROM {JOIN} WHERE {cone} GROUP BY o.id"),
        Case("join-agg-global", f"SELECT COUNT(*) AS n, SUM(s.flux) AS f FROM {JOIN}"),
        Case("join-agg-flags", f"SELECT o.flags, COUNT(DISTINCT o.id) AS n FROM {JOIN} "
             "WHERE s.flux > 10000 GROUP BY o.flags"),
        Case("join-top", f"SELECT TOP 10 o.id, s.source_id, s.mjd FROM {JOIN} "
             "ORDER BY s.mjd DESC, s.source_id", True),
        Case("join-regular", "SELECT o.id, f.label FROM sky.object o JOIN sky.flagdefs f "
             f"ON o.flags = f.flag WHERE {cone}"),
        Case("join-regular-first", "SELECT o.id, f.label FROM sky.flagdefs f JOIN sky.object o "
             "ON o.flags = f.flag WHERE f.weight > 7"),
        Case("join-regular-left", "SELECT o.id, f.weight FROM sky.object o LEFT JOIN "
             f"sky.flagdefs f ON o.flags = f.flag AND f.weight > 2 WHERE {pole}"),
        Case("join-regular-agg", "SELECT f.label, COUNT(*) AS n, AVG(o.g_mag) AS g "
             "FROM sky.object o JOIN sky.flagdefs f ON o.flags = f.flag GROUP BY f.label"),
        Case("join-regular-only", "SELECT flag, label, weight FROM sky.flagdefs"),
        Case("join-regular-only-agg", "SELECT COUNT(*) AS n, SUM(weight) AS w FROM sky.flagdefs"),
        Case("join-three-way", f"SELECT o.id, s.source_id, f.label FROM {JOIN} "
             f"JOIN sky.flagdefs f ON o.flags = f.flag WHERE {cone}"),
        Case("join-using-regular", "SELECT COUNT(*) AS n FROM sky.object o JOIN "
             "(SELECT flag AS flags, label FROM sky.flagdefs) AS f USING (flags)"),
    ]


def subquery_cases() -> list[Case]:
    """IN, EXISTS and scalar subqueries, FROM subqueries, CTEs, set operations."""
    return [
        Case("sub-in-regular", "SELECT id FROM sky.object WHERE flags IN "
             "(SELECT flag FROM sky.flagdefs WHERE weight > 6)"),
        Case("sub-not-in-regular", "SELECT COUNT(*) AS n FROM sky.object WHERE flags NOT IN "
             "(SELECT flag FROM sky.flagdefs WHERE weight IS NOT NULL)"),
        Case("sub-in-child", "SELECT id FROM sky.object WHERE id IN "
             "(SELECT object_id FROM sky.source WHERE flux > 30000)"),
        Case("sub-in-director", "SELECT source_id FROM sky.source WHERE object_id IN "
             f"(SELECT id FROM sky.object WHERE {CLUSTER})"),
        Case("sub-exists", "SELECT o.id FROM sky.object o WHERE EXISTS (SELECT 1 FROM "
             "sky.source s WHERE s.object_id = o.id AND s.flux > 20000)"),
        Case("sub-not-exists", "SELECT COUNT(*) AS n FROM sky.object o WHERE NOT EXISTS "
             "(SELECT 1 FROM sky.source s WHERE s.object_id = o.id AND s.flux > 5000)"),
        Case("sub-scalar", "SELECT id FROM sky.object WHERE g_mag > "
             f"(SELECT MAX(g_mag) - 0.1 FROM sky.object) OR ({CLUSTER} AND flags = 1)"),
        Case("sub-scalar-select", "SELECT id, (SELECT COUNT(*) FROM sky.flagdefs) AS nf "
             "FROM sky.object WHERE id < 1100"),
        Case("sub-correlated-scalar", "SELECT o.id, (SELECT COUNT(*) FROM sky.source s "
             f"WHERE s.object_id = o.id) AS n FROM sky.object o WHERE {_qualified(POLE, 'o')}"),
        Case("sub-from", "SELECT t.flags, COUNT(*) AS n FROM (SELECT flags, id FROM sky.object "
             "WHERE dec > 60) AS t GROUP BY t.flags"),
        Case("sub-from-agg", "SELECT MAX(n) AS m FROM (SELECT object_id, COUNT(*) AS n "
             "FROM sky.source GROUP BY object_id) AS t"),
        Case("sub-from-top", "SELECT t.id FROM (SELECT TOP 20 id, dec FROM sky.object "
             "ORDER BY dec, id) AS t WHERE t.id > 2000"),
        Case("cte", f"WITH near AS (SELECT id, g_mag FROM sky.object WHERE {CLUSTER}) "
             "SELECT COUNT(*) AS n, AVG(g_mag) AS g FROM near"),
        Case("cte-join", f"WITH near AS (SELECT id FROM sky.object WHERE {CLUSTER}) "
             "SELECT s.source_id FROM near JOIN sky.source s ON near.id = s.object_id"),
        Case("cte-two", "WITH a AS (SELECT id FROM sky.object WHERE flags < 4), "
             "b AS (SELECT id FROM a WHERE MOD(id, 2) = 0) SELECT COUNT(*) AS n FROM b"),
        Case("union", f"SELECT id FROM sky.object WHERE {CLUSTER} UNION "
             f"SELECT id FROM sky.object WHERE {SEAM}"),
        Case("union-all-dup", f"SELECT id FROM sky.object WHERE {CLUSTER} UNION ALL "
             f"SELECT id FROM sky.object WHERE {CLUSTER}"),
        Case("union-tables", "SELECT id, ra FROM sky.object WHERE id < 1050 UNION ALL "
             "SELECT id, ra FROM sky.other WHERE id < 5001050"),
        Case("intersect", f"SELECT id FROM sky.object WHERE {CLUSTER} INTERSECT "
             "SELECT id FROM sky.object WHERE flags > 30"),
        Case("except", f"SELECT id FROM sky.object WHERE {CLUSTER} EXCEPT "
             "SELECT id FROM sky.object WHERE flags > 30"),
        Case("union-ordered", "SELECT id FROM sky.object WHERE id < 1030 UNION "
             "SELECT object_id FROM sky.source WHERE object_id < 1050 ORDER BY id", True),
    ]


NEIGHBOURS = "sky.object a JOIN sky.object b ON 1 = CONTAINS(POINT(a.ra, a.dec), " \
    "CIRCLE(b.ra, b.dec, {r}))"


def crossmatch_cases() -> list[Case]:
    """Neighbour self-joins and cross-matches between differently partitioned tables."""
    cases = []
    for r in ("5/3600.", "0.001", "2/3600."):
        slug = r.replace("/", "_").replace(".", "")
        nb = NEIGHBOURS.format(r=r)
        cases.append(Case(f"neighbours-{slug}",
                          f"SELECT a.id AS aid, b.id AS bid FROM {nb} WHERE a.id <> b.id"))
        cases.append(Case(f"neighbours-{slug}-count",
                          f"SELECT a.id AS aid, COUNT(*) AS n FROM {nb} WHERE a.id <> b.id "
                          "GROUP BY a.id"))
    cases += [
        Case("neighbours-distance",
             "SELECT a.id AS aid, b.id AS bid FROM sky.object a JOIN sky.object b ON "
             "DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < 4/3600. WHERE a.id < b.id"),
        Case("neighbours-distance-4arg",
             "SELECT a.id AS aid, b.id AS bid, DISTANCE(a.ra, a.dec, b.ra, b.dec) AS d "
             "FROM sky.object a JOIN sky.object b ON DISTANCE(a.ra, a.dec, b.ra, b.dec) "
             "<= 0.0015 WHERE a.id <> b.id"),
        Case("neighbours-comma", "SELECT COUNT(*) AS n FROM sky.object a, sky.object b "
             "WHERE 1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 0.002)) "
             "AND a.id <> b.id"),
        Case("neighbours-in-region",
             "SELECT a.id AS aid, b.id AS bid FROM sky.object a JOIN sky.object b ON "
             "1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 0.002)) WHERE "
             f"{_qualified(CLUSTER, 'a')} AND a.id <> b.id"),
        Case("neighbours-self-included", "SELECT COUNT(*) AS n FROM " +
             NEIGHBOURS.format(r="1/3600.")),
        Case("xmatch-other", "SELECT o.id AS oid, t.id AS tid FROM sky.object o JOIN sky.other t "
             "ON 1 = CONTAINS(POINT(o.ra, o.dec), CIRCLE(t.ra, t.dec, 4/3600.))"),
        Case("xmatch-other-distance", "SELECT o.id AS oid, t.id AS tid, "
             "DISTANCE(POINT(o.ra, o.dec), POINT(t.ra, t.dec)) AS d FROM sky.object o "
             "JOIN sky.other t ON DISTANCE(POINT(o.ra, o.dec), POINT(t.ra, t.dec)) < 5/3600."),
        Case("xmatch-other-count", "SELECT o.id AS oid, COUNT(*) AS n FROM sky.object o "
             "JOIN sky.other t ON 1 = CONTAINS(POINT(t.ra, t.dec), CIRCLE(o.ra, o.dec, "
             "8/3600.)) GROUP BY o.id"),
        Case("xmatch-other-global", "SELECT COUNT(*) AS n, AVG(o.g_mag - t.g_mag) AS dg "
             "FROM sky.object o JOIN sky.other t ON 1 = CONTAINS(POINT(o.ra, o.dec), "
             "CIRCLE(t.ra, t.dec, 2/3600.))"),
        Case("xmatch-other-reversed", "SELECT t.id AS tid, o.id AS oid FROM sky.other t "
             "JOIN sky.object o ON 1 = CONTAINS(POINT(o.ra, o.dec), CIRCLE(t.ra, t.dec, "
             f"3/3600.)) WHERE {_qualified(POLE, 't')}"),
        Case("xmatch-other-seam", "SELECT o.id AS oid, t.id AS tid FROM sky.object o JOIN "
             "sky.other t ON 1 = CONTAINS(POINT(o.ra, o.dec), CIRCLE(t.ra, t.dec, 5/3600.)) "
             f"WHERE {_qualified(SEAM, 'o')}"),
        Case("xmatch-other-top", "SELECT TOP 10 o.id AS oid, t.id AS tid FROM sky.object o "
             "JOIN sky.other t ON 1 = CONTAINS(POINT(o.ra, o.dec), CIRCLE(t.ra, t.dec, "
             "5/3600.)) ORDER BY o.id, t.id", True),
    ]
    return cases


def all_cases() -> list[Case]:
    """Every differential case; ids are unique."""
    cases = (region_cases() + where_cases() + id_cases() + src_cases() + order_cases()
             + aggregate_cases()
             + join_cases() + subquery_cases() + crossmatch_cases())
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases
