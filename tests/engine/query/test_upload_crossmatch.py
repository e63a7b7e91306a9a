"""Uploaded tables cross-matched with a partitioned one, chunk by chunk, against brute force."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from engine.sky.regions import angular_distance_deg


def _upload(objects: pa.Table, n: int, seed: int, jitter_arcsec: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    idx = rng.choice(objects.num_rows, n, replace=False)
    ra = (objects["ra"].to_numpy()[idx] + rng.normal(0, jitter_arcsec / 3600, n)) % 360
    dec = np.clip(objects["dec"].to_numpy()[idx] + rng.normal(0, jitter_arcsec / 3600, n),
                  -90, 90)
    return pa.table({"uid": np.arange(n), "ura": ra, "udec": dec})


def _brute_pairs(upload: pa.Table, objects: pa.Table, radius_arcsec: float) -> set[tuple]:
    d = angular_distance_deg(upload["ura"].to_numpy()[:, None], upload["udec"].to_numpy()[:, None],
                             objects["ra"].to_numpy()[None, :], objects["dec"].to_numpy()[None, :])
    rows, cols = np.nonzero(d <= radius_arcsec / 3600)
    ids = objects["id"].to_numpy()
    return {(int(upload["uid"][r].as_py()), int(ids[c])) for r, c in zip(rows, cols, strict=True)}


@pytest.mark.parametrize("radius_arcsec", [0.5, 4.0, 60.0])
@pytest.mark.parametrize("upload_first", [True, False])
def test_upload_crossmatch_equals_brute_force(engine, sky_rows, radius_arcsec: float,
                                              upload_first: bool) -> None:
    objects = sky_rows["sky.object"]
    upload = _upload(objects, 300, seed=int(radius_arcsec * 10), jitter_arcsec=2.0)
    tables = ("TAP_UPLOAD.mine AS u JOIN sky.object AS o" if upload_first
              else "sky.object AS o JOIN TAP_UPLOAD.mine AS u")
    adql = (f"SELECT u.uid, o.id FROM {tables} ON 1 = CONTAINS(POINT(o.ra, o.dec), "
            f"CIRCLE(u.ura, u.udec, {radius_arcsec}/3600.))")
    result = engine.query(adql, uploads={"mine": upload})
    got = result.to_table()
    assert result.plan.mode == "crossmatch"
    pairs = list(zip(got["uid"].to_pylist(), got["id"].to_pylist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a pair came out twice"
    expected = _brute_pairs(upload, objects, radius_arcsec)
    assert expected, "the upload should match something"
    assert set(pairs) == expected
