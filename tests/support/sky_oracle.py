"""Brute-force sky oracles for tests: disc sampling exact at the poles and the seam."""

from __future__ import annotations

import healpy as hp
import numpy as np


def destination(ra, dec, bearing, dist_deg):
    """Points at ``dist_deg`` from (ra, dec) in direction ``bearing`` (radians).

    Built in 3D from a tangent basis, so it is exact at the poles too.
    """
    p = hp.ang2vec(np.asarray(ra, float), np.asarray(dec, float), lonlat=True).reshape(-1, 3)
    helper = np.where(np.abs(p[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(helper, p)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(p, e1)
    d = np.radians(np.asarray(dist_deg, float)).reshape(-1, 1)
    b = np.asarray(bearing, float).reshape(-1, 1)
    q = p * np.cos(d) + (e1 * np.cos(b) + e2 * np.sin(b)) * np.sin(d)
    lon, lat = hp.vec2ang(q, lonlat=True)
    return lon % 360.0, lat


def disc_partitions(pmap, ra, dec, radius_deg, rings=25, steps=360):
    """Brute force: the partitions a dense sampling of the disc around one position touches.

    ``pmap`` is an :class:`engine.sky.margins.PartitionMap`; sampling is at its lookup order.
    """
    radii = np.concatenate([np.linspace(0, radius_deg, rings)[:-1],
                            radius_deg - np.geomspace(1e-9, radius_deg / rings, 8)])
    bearings = np.linspace(0, 2 * np.pi, steps, endpoint=False)
    rr, bb = np.meshgrid(radii, bearings)
    sra, sdec = destination(np.full(rr.size, ra), np.full(rr.size, dec), bb.ravel(), rr.ravel())
    pix = hp.ang2pix(1 << pmap.lookup_order, sra, sdec, nest=True, lonlat=True)
    owners = pmap.owner[pix]
    return set(np.unique(owners[owners >= 0]).tolist())
