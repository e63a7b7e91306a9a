"""Margin properties: complete within the radius, tight beyond it, at poles and the seam."""

from __future__ import annotations

import healpy as hp
import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from engine.ingest.partitioning import choose_partitions
from engine.sky.margins import (
    MARGIN_SLACK_ARCSEC,
    PartitionMap,
    angular_distance_deg,
    margin_targets,
    neighbour_order,
)
from tests.support.sky_oracle import destination, disc_partitions

LOOKUP = 5


def touched(pmap, ra, dec, radius_deg):
    return disc_partitions(pmap, ra, dec, radius_deg)


def scenario(seed, where):
    rng = np.random.default_rng(seed)
    n = 400
    if where == "north":
        ra, dec = rng.uniform(0, 360, n), 90 - np.abs(rng.normal(0, 3, n))
    elif where == "south":
        ra, dec = rng.uniform(0, 360, n), -90 + np.abs(rng.normal(0, 3, n))
    elif where == "seam":
        ra, dec = rng.normal(0, 3, n) % 360.0, rng.uniform(-60, 60, n)
    else:
        ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    counts = np.bincount(hp.ang2pix(1 << LOOKUP, ra, dec, nest=True, lonlat=True),
                         minlength=12 * 4**LOOKUP)
    orders, ipixs = choose_partitions(counts, max_rows=int(rng.integers(5, 60)))
    pmap = PartitionMap(orders, ipixs, LOOKUP)
    # rows: a few near partition boundaries (within ~2 radii), plus the exact poles.
    k = rng.choice(len(orders), size=min(6, len(orders)), replace=False)
    bra, bdec = [], []
    for i in k:
        vec = hp.boundaries(1 << int(orders[i]), int(ipixs[i]), step=4, nest=True)
        lon, lat = hp.vec2ang(vec.T, lonlat=True)
        bra.extend(lon.tolist())
        bdec.extend(lat.tolist())
    bra, bdec = np.asarray(bra), np.asarray(bdec)
    return rng, pmap, bra, bdec


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(seed=st.integers(0, 2**32 - 1), where=st.sampled_from(["north", "south", "seam", "sky"]),
       radius_arcsec=st.sampled_from([2.0, 10.0, 30.0]))
def test_margin_contains_every_row_within_radius_and_little_more(seed, where, radius_arcsec):
    rng, pmap, bra, bdec = scenario(seed, where)
    radius = radius_arcsec / 3600
    jitter = rng.uniform(0, 2 * radius, len(bra))
    ra, dec = destination(bra, bdec, rng.uniform(0, 2 * np.pi, len(bra)), jitter)
    ra = np.concatenate([ra, [0.0, 0.0, 359.9999, 0.0001]])
    dec = np.concatenate([dec, [90.0, -90.0, 89.9999, -89.9999]])
    own = pmap.owner[hp.ang2pix(1 << LOOKUP, ra, dec, nest=True, lonlat=True)]
    keep = own >= 0
    ra, dec, own = ra[keep], dec[keep], own[keep]
    got: set[tuple[int, int]] = set()
    for part in np.unique(own).tolist():
        idx = np.flatnonzero(own == part)
        rows, targets = margin_targets(part, ra[idx], dec[idx], pmap, radius_arcsec)
        assert not np.any(targets == part)
        got |= {(int(idx[r]), int(t)) for r, t in zip(rows, targets, strict=True)}
    slack = (MARGIN_SLACK_ARCSEC + 0.5) / 3600
    for i in range(len(ra)):
        inner = touched(pmap, ra[i], dec[i], radius * 0.999) - {int(own[i])}
        outer = touched(pmap, ra[i], dec[i], radius + slack) - {int(own[i])}
        mine = {t for r, t in got if r == i}
        assert inner <= mine, (ra[i], dec[i], inner, mine)
        assert mine <= outer, (ra[i], dec[i], mine, outer)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), max_rows=st.integers(1, 500))
def test_every_row_lands_in_exactly_one_partition(seed, max_rows):
    rng = np.random.default_rng(seed)
    n = 3000
    ra = np.concatenate([rng.uniform(0, 360, n), [0.0, 360.0, 123.0, 0.0]])
    dec = np.concatenate([np.degrees(np.arcsin(rng.uniform(-1, 1, n))), [90, -90, 0.0, 0.0]])
    pix = hp.ang2pix(1 << LOOKUP, ra, dec, nest=True, lonlat=True)
    counts = np.bincount(pix, minlength=12 * 4**LOOKUP)
    orders, ipixs = choose_partitions(counts, max_rows)
    cover = np.zeros(12 * 4**LOOKUP, dtype=np.int64)
    for order, ipix in zip(orders.tolist(), ipixs.tolist(), strict=True):
        shift = 2 * (LOOKUP - order)
        cover[ipix << shift:(ipix + 1) << shift] += 1
    assert cover.max() == 1
    assert np.all(cover[pix] == 1)
    pmap = PartitionMap(orders, ipixs, LOOKUP)
    part_rows = np.bincount(pmap.owner[pix], minlength=len(orders))
    assert np.all(part_rows > 0)
    assert np.all((part_rows <= max_rows) | (orders == LOOKUP))


def test_neighbour_pixels_are_wide_enough_for_the_radius():
    for radius in (1.0, 10.0, 60.0, 600.0):
        order = neighbour_order(radius)
        assert np.degrees(hp.nside2resol(1 << order)) * 3600 >= 4 * radius


def test_angular_distance_across_the_seam_and_at_the_pole():
    expected = 0.02 * np.cos(np.radians(10))
    assert abs(angular_distance_deg(359.99, 10.0, 0.01, 10.0) - expected) < 1e-6
    assert abs(angular_distance_deg(0.0, 90.0, 180.0, 89.0) - 1.0) < 1e-9
