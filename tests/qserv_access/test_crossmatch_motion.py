"""Proper-motion cross-match on real data: Hipparcos (J1991.25) against Gaia DR3 (J2016.0).

The cut in tests/data (tests/data/make_hip_gaia_cut.py, 969 Hipparcos and 2,525 Gaia
stars) is ingested with small partitions, so that many stars move across a partition
edge between the epochs. The oracle is astropy: ``SkyCoord.apply_space_motion`` and
``match_to_catalog_sky`` over the unpartitioned files.
"""

import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time

import qserv_access
from qserv_access.crossmatch import RadiusWidened

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT = Path(__file__).resolve().parents[2]
HIP_EPOCH, GAIA_EPOCH = 1991.25, 2016.0


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("motion") / "data"
    qserv_access.ingest(data_dir, "hip.main", [DATA / "hip_cut.parquet"], ra="ra", dec="dec",
                        id_column="hip", max_rows_per_partition=150, workers=1)
    qserv_access.ingest(data_dir, "gaia.dr3_bright", [DATA / "gaia_cut.parquet"], ra="ra",
                        dec="dec", max_rows_per_partition=150, workers=1)
    return data_dir


@pytest.fixture(scope="module")
def motion_cat(motion_dir):
    cat = qserv_access.connect(motion_dir, workers=2)
    yield cat
    cat.close()


def _files():
    return (Table.read(DATA / "hip_cut.parquet"), Table.read(DATA / "gaia_cut.parquet"))


def _oracle_hip_to_gaia(propagated: bool):
    """HIP id -> separation (arcsec) of its nearest Gaia star, by astropy."""
    hip, gaia = _files()
    coords = SkyCoord(np.asarray(hip["ra"]) * u.deg, np.asarray(hip["dec"]) * u.deg,
                      pm_ra_cosdec=np.asarray(hip["pmra"]) * u.mas / u.yr,
                      pm_dec=np.asarray(hip["pmdec"]) * u.mas / u.yr,
                      obstime=Time(HIP_EPOCH, format="jyear"))
    if propagated:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ERFA: no distance given, taken as very far
            coords = coords.apply_space_motion(new_obstime=Time(GAIA_EPOCH, format="jyear"))
    target = SkyCoord(np.asarray(gaia["ra"]) * u.deg, np.asarray(gaia["dec"]) * u.deg)
    _, sep, _ = SkyCoord(coords.ra, coords.dec).match_to_catalog_sky(target)
    return dict(zip(np.asarray(hip["hip"]).tolist(), sep.arcsec.tolist(), strict=True))


def _same_matches(got_ids, oracle, radius_arcsec=1.0, tol_arcsec=0.002):
    """Equal sets of matched ids, except stars the oracle puts within tol of the radius."""
    want = {k for k, sep in oracle.items() if sep <= radius_arcsec}
    for k in set(got_ids) ^ want:
        assert abs(oracle[k] - radius_arcsec) < tol_arcsec, (k, oracle[k])
    return len(set(got_ids)) / len(oracle)


def test_partitions_are_small_enough_for_stars_to_cross_their_edges(motion_cat):
    assert motion_cat.describe("hip.main").partitions >= 6
    assert motion_cat.describe("gaia.dr3_bright").partitions >= 16


def test_catalog_epoch_comes_from_the_position_columns_metadata(motion_cat):
    from qserv_access.crossmatch import catalog_epoch

    assert catalog_epoch(motion_cat.describe("hip.main")) == HIP_EPOCH
    assert catalog_epoch(motion_cat.describe("gaia.dr3_bright")) == GAIA_EPOCH


def test_propagating_hipparcos_to_gaia_epoch_matches_as_astropy_does(motion_cat):
    hip = motion_cat.query("SELECT hip, ra, dec, pmra, pmdec FROM hip.main")
    plain = motion_cat.crossmatch(hip, 1 * u.arcsec, table="gaia.dr3_bright", nearest=True,
                                  columns=["source_id"])
    moved = motion_cat.crossmatch(hip, 1 * u.arcsec, table="gaia.dr3_bright", nearest=True,
                                  columns=["source_id"], epoch=HIP_EPOCH, pm_ra="pmra",
                                  pm_dec="pmdec")
    rate_plain = _same_matches(plain["hip"], _oracle_hip_to_gaia(False))
    rate_moved = _same_matches(moved["hip"], _oracle_hip_to_gaia(True))
    # Measured on this cut (the whole catalogs give 64.8 % and 93.1 %, see below).
    print(f"1″ nearest-neighbour match rate: {rate_plain:.4f} as given, {rate_moved:.4f} moved")
    assert rate_plain == pytest.approx(0.472, abs=0.001)  # measured on this cut
    assert rate_moved == pytest.approx(0.930, abs=0.001)
    assert moved["match_dist_arcsec"].unit == u.arcsec
    assert (moved["match_dist_arcsec"] <= 1.0 * u.arcsec).all()
    assert len(set(moved["hip"])) == len(moved)  # nearest: one pair per star


def test_catalog_side_moves_widens_the_radius_and_finds_the_same_pairs(motion_cat):
    """Gaia positions (J2016) against Hipparcos with its motions (J1991.25)."""
    gaia = motion_cat.query("SELECT source_id, ra, dec FROM gaia.dr3_bright "
                            "WHERE source_id IS NOT NULL")
    with pytest.warns(RadiusWidened, match=r"widened from 1″ to \d+\.\d″"):
        got = motion_cat.crossmatch(gaia, 1 * u.arcsec, table="hip.main", epoch="J2016.0",
                                    columns=["hip", "ra", "dec"])
    hip, _ = _files()
    coords = SkyCoord(np.asarray(hip["ra"]) * u.deg, np.asarray(hip["dec"]) * u.deg,
                      pm_ra_cosdec=np.asarray(hip["pmra"]) * u.mas / u.yr,
                      pm_dec=np.asarray(hip["pmdec"]) * u.mas / u.yr,
                      obstime=Time(HIP_EPOCH, format="jyear"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moved = coords.apply_space_motion(new_obstime=Time(GAIA_EPOCH, format="jyear"))
    target = SkyCoord(moved.ra, moved.dec)
    g = SkyCoord(np.asarray(gaia["ra"]) * u.deg, np.asarray(gaia["dec"]) * u.deg)
    gi, hi, _, _ = target.search_around_sky(g, 1 * u.arcsec)
    want = {(int(gaia["source_id"][a]), int(hip["hip"][b])) for a, b in zip(gi, hi, strict=True)}
    pairs = {(int(a), int(b)) for a, b in zip(got["source_id"], got["hip"], strict=True)}
    assert pairs == want
    assert len(want) > 500


def _partition_of(cat, table, ra, dec):
    """Index of the partition of ``table`` whose HEALPix pixel holds each position (-1: none)."""
    import healpy as hp

    parts = cat.engine.table(table).partitions
    out = np.full(len(ra), -1)
    for k, part in enumerate(parts):
        pix = hp.ang2pix(2 ** part.order, ra, dec, nest=True, lonlat=True)
        out[pix == part.ipix] = k
    return out


def test_fast_stars_that_crossed_a_partition_edge_are_found(tmp_path):
    """Synthetic fast movers on small partitions: brute force against the catalog moved."""
    import pyarrow as pa

    from qserv_access.motion import propagate

    rng = np.random.default_rng(11)
    n = 3000
    ra, dec = rng.uniform(40, 41, n), rng.uniform(-0.5, 0.5, n)
    pmra, pmdec = rng.normal(0, 20_000, n), rng.normal(0, 20_000, n)  # up to ~1'/yr
    meta = {"description": "position, ICRS, epoch J2000.0", "unit": "deg"}
    stars = pa.Table.from_arrays(
        [pa.array(np.arange(n)), pa.array(ra), pa.array(dec), pa.array(pmra), pa.array(pmdec)],
        schema=pa.schema([pa.field("star", pa.int64()), pa.field("ra", pa.float64(), metadata=meta),
                          pa.field("dec", pa.float64(), metadata=meta),
                          pa.field("pmra", pa.float64(), metadata={"unit": "mas/yr"}),
                          pa.field("pmdec", pa.float64(), metadata={"unit": "mas/yr"})]))
    qserv_access.ingest(tmp_path, "fast.stars", [stars], ra="ra", dec="dec", id_column="star",
                        max_rows_per_partition=40, workers=1)
    later_ra, later_dec = propagate(ra, dec, pmra, pmdec, 10.0)
    pick = rng.choice(n, 400, replace=False)
    seen = Table({"obs": np.arange(400), "ra": later_ra[pick] + rng.normal(0, 0.2, 400) / 3600,
                  "dec": later_dec[pick]})
    with qserv_access.connect(tmp_path) as cat:
        with pytest.warns(RadiusWidened):
            got = cat.crossmatch(seen, 1 * u.arcsec, table="fast.stars", epoch=2010.0,
                                 columns=["star", "ra", "dec"])
        crossed = _partition_of(cat, "fast.stars", np.asarray(seen["ra"])[got["obs"]],
                                np.asarray(seen["dec"])[got["obs"]]) != _partition_of(
            cat, "fast.stars", np.asarray(got["ra_cat"]), np.asarray(got["dec_cat"]))
    want = set()
    for k, (r, d) in enumerate(zip(seen["ra"], seen["dec"], strict=True)):
        sep = SkyCoord(r, d, unit="deg").separation(SkyCoord(later_ra, later_dec, unit="deg"))
        want |= {(k, int(s)) for s in np.flatnonzero(sep.arcsec <= 1.0)}
    assert {(int(a), int(b)) for a, b in zip(got["obs"], got["star"], strict=True)} == want
    assert crossed.sum() > 100  # most of these stars left their partition, and were found


def test_without_epoch_the_catalog_motions_are_ignored(motion_cat):
    gaia = motion_cat.query("SELECT source_id, ra, dec FROM gaia.dr3_bright "
                            "WHERE source_id IS NOT NULL")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = motion_cat.crossmatch(gaia, 1 * u.arcsec, table="hip.main", columns=["hip"])
    assert 0 < len(plain) < 0.8 * len(motion_cat.query("SELECT hip FROM hip.main"))


def test_epoch_errors_say_what_to_give(motion_cat):
    mine = Table({"ra": [180.0], "dec": [0.0]})
    with pytest.raises(qserv_access.QueryRejected, match="pm_ra/pm_dec need epoch="):
        motion_cat.crossmatch(mine, 1 * u.arcsec, table="gaia.dr3_bright", pm_ra="x",
                              pm_dec="y")
    with pytest.raises(qserv_access.QueryRejected, match="Neither your table"):
        motion_cat.crossmatch(mine, 1 * u.arcsec, table="gaia.dr3_bright", epoch=2000)
    with pytest.raises(qserv_access.QueryRejected, match="not an epoch"):
        motion_cat.crossmatch(mine, 1 * u.arcsec, table="hip.main", epoch="soon")


def test_propagation_equals_astropy_apply_space_motion():
    from qserv_access.motion import propagate

    rng = np.random.default_rng(3)
    ra, dec = rng.uniform(0, 360, 500), rng.uniform(-89.9, 89.9, 500)
    pmra, pmdec = rng.normal(0, 2000, 500), rng.normal(0, 2000, 500)
    got_ra, got_dec = propagate(ra, dec, pmra, pmdec, 24.75)
    c = SkyCoord(ra * u.deg, dec * u.deg, pm_ra_cosdec=pmra * u.mas / u.yr,
                 pm_dec=pmdec * u.mas / u.yr, obstime=Time(HIP_EPOCH, format="jyear"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = c.apply_space_motion(new_obstime=Time(GAIA_EPOCH, format="jyear"))
    sep = SkyCoord(got_ra * u.deg, got_dec * u.deg).separation(SkyCoord(want.ra, want.dec))
    assert sep.max() < 1 * u.mas


def test_whole_hipparcos_against_gaia_dr3_bright(demo_dir):
    """The numbers the README quotes: 64.8 % within 1″ as given, 93.1 % propagated."""
    with qserv_access.connect(demo_dir) as cat:
        hip = cat.query("SELECT hip, ra, dec, pmra, pmdec FROM hip.main", maxrec=200_000)
        plain = cat.crossmatch(hip, 1 * u.arcsec, table="gaia.dr3_bright", nearest=True,
                               columns=["source_id"])
        moved = cat.crossmatch(hip, 1 * u.arcsec, table="gaia.dr3_bright", nearest=True,
                               columns=["source_id"], epoch=HIP_EPOCH, pm_ra="pmra",
                               pm_dec="pmdec")
    assert len(hip) == 117_955
    assert len(plain) / len(hip) == pytest.approx(0.648, abs=0.001)
    assert len(moved) / len(hip) == pytest.approx(0.931, abs=0.001)


def test_parquet_cut_is_what_the_script_makes():
    assert pq.read_metadata(DATA / "hip_cut.parquet").num_rows == 969
    assert pq.read_metadata(DATA / "gaia_cut.parquet").num_rows == 2525


def test_the_same_cross_match_through_a_tap_service(motion_dir, motion_cat, tmp_path_factory):
    """Remote: the epoch comes from TAP_SCHEMA.columns, the upload goes over HTTP."""
    from tests.support.postgres import free_port
    from tests.support.tap_server import running_tap_server

    hip = motion_cat.query("SELECT hip, ra, dec, pmra, pmdec FROM hip.main")
    local = motion_cat.crossmatch(hip, 1 * u.arcsec, table="gaia.dr3_bright", nearest=True,
                                  columns=["source_id"], epoch=HIP_EPOCH, pm_ra="pmra",
                                  pm_dec="pmdec")
    with running_tap_server(motion_dir, tmp_path_factory.mktemp("motion-tap"),
                            free_port()) as url, qserv_access.connect(url) as remote:
        from qserv_access.crossmatch import catalog_epoch

        assert catalog_epoch(remote.describe("hip.main")) == HIP_EPOCH
        got = remote.crossmatch(hip, 1 * u.arcsec, table="gaia.dr3_bright", nearest=True,
                                columns=["source_id"], epoch=HIP_EPOCH, pm_ra="pmra",
                                pm_dec="pmdec")
        gaia = remote.query("SELECT source_id, ra, dec FROM gaia.dr3_bright "
                            "WHERE source_id IS NOT NULL")
        with pytest.warns(RadiusWidened):
            back = remote.crossmatch(gaia, 1 * u.arcsec, table="hip.main", epoch=GAIA_EPOCH,
                                     columns=["hip"])
    assert sorted(zip(got["hip"], got["source_id"], strict=True)) == sorted(
        zip(local["hip"], local["source_id"], strict=True))
    assert len(back) > 500
