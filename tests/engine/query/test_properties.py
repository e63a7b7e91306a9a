"""Property tests: random regions and neighbour radii against numpy brute force on all rows.

The engine's chunked result must hold every row inside the region exactly once (no margin
duplicates, nothing lost at a partition edge). Rows within a hair of the boundary may go
either way, since SQL and numpy round differently there.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.api import Engine
from tests.support.sky_oracle import destination

EDGE_DEG = 1e-9
"""Rows closer than this to a region's boundary are allowed on either side."""

_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])

_PAIR_SETTINGS = settings(_SETTINGS, max_examples=12)


def _vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _distance_deg(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    dra, ddec = np.radians(ra - ra0), np.radians(dec - dec0)
    hav = np.sin(ddec / 2) ** 2 + np.cos(np.radians(dec)) * np.cos(np.radians(dec0)) * (
        np.sin(dra / 2) ** 2)
    hav = np.clip(hav, 0.0, 1.0)
    return np.degrees(2 * np.arctan2(np.sqrt(hav), np.sqrt(1 - hav)))


def _ids(engine: Engine, adql: str) -> list[int]:
    table = engine.query(adql).to_table()
    return table.column(0).to_pylist() if table.num_rows else []


def _assert_ids(got: list[int], inside: set[int], edge: set[int]) -> None:
    assert len(got) == len(set(got)), "duplicate rows (margin rows counted twice?)"
    missing = inside - set(got) - edge
    extra = set(got) - inside - edge
    assert not missing, f"rows inside the region missing: {sorted(missing)[:10]}"
    assert not extra, f"rows outside the region returned: {sorted(extra)[:10]}"


SPECIAL_CENTRES = [(0.0, 90.0), (0.0, -90.0), (0.0, 0.0), (359.9999, 10.0), (150.0, 2.0),
                   (180.0, 89.99), (0.001, -45.0), (45.0, 0.0)]

centres = st.one_of(
    st.sampled_from(SPECIAL_CENTRES),
    st.tuples(st.floats(0.0, 360.0, exclude_max=True), st.floats(-90.0, 90.0)),
    st.tuples(st.floats(149.5, 150.5), st.floats(1.5, 2.5)),
)
radii = st.floats(-4.0, np.log10(30.0)).map(lambda e: float(10**e))


@_SETTINGS
@given(centre=centres, radius=radii)
def test_random_cone_equals_brute_force(engine: Engine, sky_rows: dict[str, pa.Table],
                                        centre: tuple[float, float], radius: float) -> None:
    ra0, dec0 = centre
    table = sky_rows["sky.object"]
    ra, dec = table.column("ra").to_numpy(), table.column("dec").to_numpy()
    ids = table.column("id").to_numpy()
    dist = _distance_deg(ra, dec, ra0, dec0)
    inside = set(ids[dist <= radius].tolist())
    edge = set(ids[np.abs(dist - radius) < EDGE_DEG].tolist())
    got = _ids(engine, f"SELECT id FROM sky.object WHERE "
                       f"CONTAINS(POINT(ra, dec), CIRCLE({ra0!r}, {dec0!r}, {radius!r})) = 1")
    _assert_ids(got, inside, edge)


@_SETTINGS
@given(centre=centres, radius=st.floats(0.01, 20.0), count=st.integers(3, 8),
       turn=st.floats(0, 2 * np.pi), jitter=st.lists(st.floats(0.1, 0.9), min_size=8,
                                                     max_size=8))
def test_random_convex_polygon_equals_brute_force(
        engine: Engine, sky_rows: dict[str, pa.Table], centre: tuple[float, float],
        radius: float, count: int, turn: float, jitter: list[float]) -> None:
    # vertices on a circle at increasing bearings: a convex polygon smaller than a hemisphere
    steps = 1.0 + np.asarray(jitter[:count])  # every gap < 180 deg: the centre is inside
    bearings = turn + 2 * np.pi * np.cumsum(steps) / steps.sum()
    vra, vdec = destination(np.full(count, centre[0]), np.full(count, centre[1]), bearings,
                            np.full(count, radius))
    verts = _vectors(np.asarray(vra), np.asarray(vdec))
    table = sky_rows["sky.object"]
    points = _vectors(table.column("ra").to_numpy(), table.column("dec").to_numpy())
    ids = table.column("id").to_numpy()
    normals = np.cross(verts, np.roll(verts, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # the interior is the side of every edge where the centre lies
    orientation = np.sign(normals @ _vectors(np.array([centre[0]]), np.array([centre[1]]))[0])
    sides = (points @ normals.T) * orientation
    inside_mask = np.all(sides >= 0, axis=1)
    edge_mask = np.any(np.abs(sides) < np.radians(EDGE_DEG) * 10, axis=1)
    text = ", ".join(f"{float(a)!r}, {float(d)!r}" for a, d in zip(vra, vdec, strict=True))
    got = _ids(engine, f"SELECT id FROM sky.object WHERE "
                       f"1 = CONTAINS(POINT(ra, dec), POLYGON({text}))")
    _assert_ids(got, set(ids[inside_mask].tolist()), set(ids[edge_mask].tolist()))


_CLOSE_DEG = 20 / 3600
"""Pairs farther apart than this never matter to the neighbour tests."""

_DISTANCES: dict[tuple[int, int], np.ndarray] = {}


def _close_distances(a: pa.Table, b: pa.Table, *, self_join: bool) -> np.ndarray:
    """Distances (degrees) of all pairs closer than ``_CLOSE_DEG``, by brute force (cached)."""
    key = (id(a), id(b))
    if key not in _DISTANCES:
        va = _vectors(a.column("ra").to_numpy(), a.column("dec").to_numpy())
        vb = _vectors(b.column("ra").to_numpy(), b.column("dec").to_numpy())
        chord = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (va @ vb.T)))
        # recompute the close ones with the stable difference formula
        i, j = np.nonzero(chord < 2 * np.sin(np.radians(2 * _CLOSE_DEG) / 2))
        exact = np.linalg.norm(va[i] - vb[j], axis=1)
        dist = np.degrees(2 * np.arcsin(np.clip(exact / 2, 0, 1)))
        if self_join:
            dist = dist[i != j]
        _DISTANCES[key] = dist
    return _DISTANCES[key]


def _pair_counts(a: pa.Table, b: pa.Table, radius_deg: float, *,
                 self_join: bool) -> tuple[int, int]:
    """(pairs surely within the radius, pairs within a hair of it) by brute force."""
    dist = _close_distances(a, b, self_join=self_join)
    sure = int(np.count_nonzero(dist <= radius_deg - EDGE_DEG))
    near = int(np.count_nonzero(np.abs(dist - radius_deg) < EDGE_DEG))
    return sure, near


@_PAIR_SETTINGS
@given(arcsec=st.floats(0.1, 10.0))
def test_random_neighbour_radius_pair_count_equals_brute_force(
        engine: Engine, sky_rows: dict[str, pa.Table], arcsec: float) -> None:
    table = sky_rows["sky.object"]
    sure, near = _pair_counts(table, table, arcsec / 3600, self_join=True)
    got = engine.query(
        "SELECT COUNT(*) AS n FROM sky.object a JOIN sky.object b ON "
        f"1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, {arcsec!r} / 3600.)) "
        "WHERE a.id <> b.id").to_table().column(0)[0].as_py()
    assert sure <= got <= sure + near


@_PAIR_SETTINGS
@given(arcsec=st.floats(0.1, 10.0))
def test_random_crossmatch_radius_pair_count_equals_brute_force(
        engine: Engine, sky_rows: dict[str, pa.Table], arcsec: float) -> None:
    sure, near = _pair_counts(sky_rows["sky.object"], sky_rows["sky.other"], arcsec / 3600,
                              self_join=False)
    got = engine.query(
        "SELECT COUNT(*) AS n FROM sky.object o JOIN sky.other t ON "
        f"DISTANCE(POINT(o.ra, o.dec), POINT(t.ra, t.dec)) <= {arcsec!r} / 3600.") \
        .to_table().column(0)[0].as_py()
    assert sure <= got <= sure + near
