"""Geometry macros against numpy brute force: cones and polygons anywhere, poles and seam."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.adql.parse import parse_adql
from engine.adql.translate import to_duckdb

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _sky(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points plus clusters at both poles and on the RA 0/360 seam."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    k = n // 8
    ra[:k] = rng.uniform(0, 360, k)
    dec[:k] = rng.uniform(85, 90, k)
    ra[k : 2 * k] = rng.uniform(0, 360, k)
    dec[k : 2 * k] = rng.uniform(-90, -85, k)
    ra[2 * k : 3 * k] = np.mod(rng.uniform(-3, 3, k), 360)
    dec[2 * k : 3 * k] = rng.uniform(-60, 60, k)
    dec[0], dec[k] = 90.0, -90.0
    return ra, dec


RA, DEC = _sky(4000, seed=7)


def unit(ra: np.ndarray | float, dec: np.ndarray | float) -> np.ndarray:
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    return np.stack(
        [np.cos(dec_r) * np.cos(ra_r), np.cos(dec_r) * np.sin(ra_r), np.sin(dec_r)], axis=-1
    )


def haversine_deg(ra1, dec1, ra2, dec2):  # type: ignore[no-untyped-def]
    r1, d1, r2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    a = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arctan2(np.sqrt(a), np.sqrt(np.clip(1 - a, 0, None))))


def destination(ra: float, dec: float, bearing_deg: np.ndarray, dist_deg: np.ndarray):  # type: ignore[no-untyped-def]
    """Points at given bearings and distances; a fixed local frame keeps poles well defined."""
    n = unit(ra, dec)
    east = np.cross([0.0, 0.0, 1.0], n)
    east = east / np.linalg.norm(east) if np.linalg.norm(east) > 1e-9 else np.array([0.0, 1, 0])
    north = np.cross(n, east)
    b, s = np.radians(bearing_deg)[:, None], np.radians(dist_deg)[:, None]
    v = np.cos(s) * n + np.sin(s) * (np.cos(b) * north + np.sin(b) * east)
    vra = np.mod(np.degrees(np.arctan2(v[:, 1], v[:, 0])), 360)
    vdec = np.degrees(np.arctan2(v[:, 2], np.hypot(v[:, 0], v[:, 1])))
    return vra, vdec


@pytest.fixture(scope="module")
def sky(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("CREATE TABLE sky (id INTEGER, ra DOUBLE, dec DOUBLE)")
    con.executemany(
        "INSERT INTO sky VALUES (?, ?, ?)",
        [(i, float(r), float(d)) for i, (r, d) in enumerate(zip(RA, DEC, strict=True))],
    )
    return con


def ids(con: duckdb.DuckDBPyConnection, adql: str) -> set[int]:
    sql = to_duckdb(parse_adql(adql)).sql(dialect="duckdb")
    return {row[0] for row in con.execute(sql).fetchall()}


ras = st.floats(0, 360, exclude_max=True)
decs = st.floats(-90, 90)


@SETTINGS
@given(ra=ras, dec=decs, radius=st.floats(0.01, 40))
def test_cone_matches_haversine_brute_force(
    sky: duckdb.DuckDBPyConnection, ra: float, dec: float, radius: float
) -> None:
    got = ids(
        sky,
        f"SELECT id FROM sky WHERE CONTAINS(POINT('ICRS', ra, dec), "
        f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r})) = 1",
    )
    dist = haversine_deg(RA, DEC, ra, dec)
    sure = set(np.flatnonzero(dist < radius - 1e-9))
    maybe = set(np.flatnonzero(dist <= radius + 1e-9))
    assert sure <= got <= maybe


@SETTINGS
@given(ra=ras, dec=decs)
def test_distance_matches_numpy(sky: duckdb.DuckDBPyConnection, ra: float, dec: float) -> None:
    sql = to_duckdb(
        parse_adql(f"SELECT id, DISTANCE(POINT(ra, dec), POINT({ra!r}, {dec!r})) FROM sky")
    ).sql(dialect="duckdb")
    rows = dict(sky.execute(sql).fetchall())
    got = np.array([rows[i] for i in range(len(RA))])
    np.testing.assert_allclose(got, haversine_deg(RA, DEC, ra, dec), atol=1e-9)


def _in_star_polygon(center: np.ndarray, verts: np.ndarray, pts: np.ndarray, tol: float):  # type: ignore[no-untyped-def]
    """Inside the union of fan triangles (center, v_i, v_i+1); each triangle is convex."""
    inside = np.zeros(len(pts), dtype=bool)
    for a, b in zip(verts, np.roll(verts, -1, axis=0), strict=True):
        planes = [np.cross(center, a), np.cross(a, b), np.cross(b, center)]
        sign = np.sign(np.dot(np.cross(a, b), center))
        ok = np.ones(len(pts), dtype=bool)
        for plane in planes:
            ok &= sign * (pts @ plane) / np.linalg.norm(plane) >= -tol
        inside |= ok
    return inside


@SETTINGS
@given(
    ra=ras,
    dec=decs,
    bearings=st.lists(st.floats(0, 360, exclude_max=True), min_size=3, max_size=9, unique=True),
    radii=st.lists(st.floats(0.5, 40), min_size=9, max_size=9),
    reverse=st.booleans(),
)
def test_star_shaped_polygon_matches_brute_force(
    sky: duckdb.DuckDBPyConnection,
    ra: float,
    dec: float,
    bearings: list[float],
    radii: list[float],
    reverse: bool,
) -> None:
    order = np.sort(np.array(bearings))
    # a gap of 170 degrees or more would leave the centre outside: not a star around it
    gaps = np.diff(np.concatenate([order, [order[0] + 360]]))
    assume(np.max(gaps) < 170)
    assume(np.min(gaps) > 0.1)  # distinct vertices: no zero-length edge
    vra, vdec = destination(ra, dec, order, np.array(radii[: len(order)]))
    if reverse:
        vra, vdec = vra[::-1], vdec[::-1]
    coords = ", ".join(f"{float(a)!r}, {float(d)!r}" for a, d in zip(vra, vdec, strict=True))
    got = ids(sky, f"SELECT id FROM sky WHERE CONTAINS(POINT(ra, dec), POLYGON({coords})) = 1")
    by_column = ids(  # the same polygon as a run-time value: orientation computed in SQL
        sky,
        f"SELECT id FROM sky, (SELECT POLYGON({coords}) AS p FROM sky WHERE id = 0) AS q "
        "WHERE CONTAINS(POINT(ra, dec), q.p) = 1",
    )
    assert by_column == got
    center, verts, pts = unit(ra, dec), unit(vra, vdec), unit(RA, DEC)
    sure = set(np.flatnonzero(_in_star_polygon(center, verts, pts, -1e-9)))
    maybe = set(np.flatnonzero(_in_star_polygon(center, verts, pts, 1e-9)))
    assert sure <= got <= maybe


def test_polygon_around_a_pole_and_across_the_seam(sky: duckdb.DuckDBPyConnection) -> None:
    north = ids(sky, "SELECT id FROM sky WHERE CONTAINS(POINT(ra, dec), "
                     "POLYGON(0, 80, 270, 80, 180, 80, 90, 80)) = 1")
    assert 0 in north  # the point at dec = +90
    assert all(DEC[i] > 79 for i in north)
    seam = ids(sky, "SELECT id FROM sky WHERE CONTAINS(POINT(ra, dec), "
                    "POLYGON(358, -10, 2, -10, 2, 10, 358, 10)) = 1")
    expected = {i for i in range(len(RA)) if (RA[i] > 358.5 or RA[i] < 1.5) and abs(DEC[i]) < 9}
    assert expected <= seam
    assert all(RA[i] > 357 or RA[i] < 3 for i in seam)


def test_contains_with_column_valued_circles_matches_pairs(con: duckdb.DuckDBPyConnection) -> None:
    rng = np.random.default_rng(3)
    b_ra = np.concatenate([rng.uniform(0, 360, 30), [359.995, 0.0, 10.0]])
    b_dec = np.concatenate([rng.uniform(-89, 89, 30), [0.0, 89.995, -89.999]])
    a_ra = np.mod(np.repeat(b_ra, 5) + rng.normal(0, 0.01, 5 * len(b_ra)), 360)
    a_dec = np.clip(np.repeat(b_dec, 5) + rng.normal(0, 0.01, 5 * len(b_dec)), -90, 90)
    con.execute("CREATE TABLE a (id INTEGER, ra DOUBLE, dec DOUBLE)")
    con.execute("CREATE TABLE b (id INTEGER, ra DOUBLE, dec DOUBLE)")
    for name, ras_, decs_ in (("a", a_ra, a_dec), ("b", b_ra, b_dec)):
        rows = [(i, float(r), float(d)) for i, (r, d) in enumerate(zip(ras_, decs_, strict=True))]
        con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?)", rows)
    sql = to_duckdb(parse_adql(
        "SELECT a.id, b.id FROM a JOIN b "
        "ON CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 0.01)) = 1"
    )).sql(dialect="duckdb")
    got = set(con.execute(sql).fetchall())
    dist = haversine_deg(a_ra[:, None], a_dec[:, None], b_ra[None, :], b_dec[None, :])
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(dist <= 0.01), strict=True)}
    assert got == expected
    assert len(expected) > 50


def test_generic_contains_dispatches_on_stored_geometry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE shapes (id INTEGER, shape DOUBLE[])")
    con.execute("INSERT INTO shapes VALUES (1, [10, 10, 1]), (2, [0, 0, 5, 0, 5, 5, 0, 5]), "
                "(3, [359, -1, 1, -1, 1, 1, 359, 1])")
    rows = con.execute(to_duckdb(parse_adql(
        "SELECT id, CONTAINS(POINT(10.5, 10), shape), CONTAINS(POINT(2, 2), shape), "
        "CONTAINS(POINT(0.5, 0.5), shape), INTERSECTS(shape, CIRCLE(3, 3, 0.1)), "
        "AREA(shape) > 0 FROM shapes ORDER BY id"
    )).sql(dialect="duckdb")).fetchall()
    assert rows == [(1, 1, 0, 0, 0, True), (2, 0, 1, 1, 1, True), (3, 0, 0, 1, 0, True)]
