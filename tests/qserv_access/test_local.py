import threading

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from pyvo.dal import DALQueryError
from pyvo.dal.exceptions import DALOverflowWarning

import qserv_access
from qserv_access import JobPhase, QueryRejected


def haversine_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    a = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0, 1))))


def test_connect_to_directory_gives_local_catalog(catalog):
    from qserv_access.local import LocalCatalog

    assert isinstance(catalog, LocalCatalog)
    info = catalog.tables["sky.object"]
    assert (info.ra_column, info.dec_column, info.id_column) == ("ra", "dec", "id")
    assert info.nrows == 2000
    assert {c.name: c.unit for c in info.columns}["g_mag"] == "mag"


def test_query_returns_units_ucds_and_descriptions(catalog):
    table = catalog.query("SELECT TOP 5 id, ra, dec, g_mag FROM sky.object")
    assert isinstance(table, Table)
    assert len(table) == 5
    assert table["ra"].unit == u.deg
    assert table["g_mag"].unit == u.mag
    assert table["ra"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert table["dec"].description == "Declination (ICRS)"
    frame = table.to_pandas()
    assert list(frame.columns) == ["id", "ra", "dec", "g_mag"]


def test_empty_result_keeps_its_columns(catalog):
    table = catalog.query("SELECT id, ra FROM sky.object WHERE id < 0")
    assert len(table) == 0
    assert table.colnames == ["id", "ra"]


def test_maxrec_cut_warns_and_marks_overflow(catalog):
    with pytest.warns(DALOverflowWarning):
        table = catalog.query("SELECT id FROM sky.object", maxrec=10)
    assert len(table) == 10
    assert table.meta["overflow"] is True


@pytest.mark.parametrize(("ra", "dec", "radius"), [
    (150.0, 2.0, 0.3), (0.0, 0.0, 5.0), (359.99, -45.0, 2.0), (10.0, 89.9, 1.0),
])
def test_cone_search_matches_brute_force(catalog, sky_rows, ra, dec, radius):
    got = catalog.cone_search((ra, dec), radius, columns=["id"])
    dist = haversine_deg(ra, dec, sky_rows["ra"].to_numpy(), sky_rows["dec"].to_numpy())
    expected = sky_rows["id"].to_numpy()[dist <= radius]
    assert sorted(got["id"].tolist()) == sorted(expected.tolist())
    assert len(set(got["id"].tolist())) == len(got)


def test_cone_search_accepts_skycoord_and_quantity(catalog):
    by_numbers = catalog.cone_search((150.0, 2.0), 0.2)
    coord = SkyCoord(150.0 * u.deg, 2.0 * u.deg, frame="icrs")
    by_coord = catalog.cone_search(coord, 12 * u.arcmin)
    assert sorted(by_coord["id"]) == sorted(by_numbers["id"])
    galactic = coord.galactic
    assert len(catalog.cone_search(galactic, 0.2 * u.deg)) == len(by_numbers)


def test_cone_search_rejects_bad_input_with_pyvo_class(catalog):
    with pytest.raises(DALQueryError, match="dec"):
        catalog.cone_search((10.0, 95.0), 1.0)
    with pytest.raises(QueryRejected, match=r"Did you mean 'sky\.object'"):
        catalog.cone_search((10.0, 5.0), 1.0, table="sky.objet")
    with pytest.raises(QueryRejected, match="not an angle"):
        catalog.cone_search((10.0, 5.0), 3 * u.kg)


def test_bad_adql_raises_query_rejected_with_position(catalog):
    with pytest.raises(DALQueryError, match="line 1, column"):
        catalog.query("SELECT FROM sky.object")


def test_crossmatch_uploaded_table_matches_brute_force(catalog, sky_rows):
    ra = sky_rows["ra"].to_numpy()[::50] + 1.0 / 3600
    dec = sky_rows["dec"].to_numpy()[::50]
    mine = Table({"name": [f"s{i}" for i in range(len(ra))], "RA": ra, "Dec": dec})
    got = catalog.crossmatch(mine, 3.0 * u.arcsec, columns=["id"])
    assert set(got.colnames) == {"name", "RA", "Dec", "id", "match_dist_arcsec"}
    all_ra, all_dec = sky_rows["ra"].to_numpy(), sky_rows["dec"].to_numpy()
    expected = set()
    for name, r, d in zip(mine["name"], ra, dec, strict=True):
        near = haversine_deg(r, d, all_ra, all_dec) <= 3.0 / 3600
        expected |= {(name, int(i)) for i in sky_rows["id"].to_numpy()[near]}
    assert {(str(n), int(i)) for n, i in zip(got["name"], got["id"], strict=True)} == expected
    assert np.all(got["match_dist_arcsec"] <= 3.0 + 1e-9)


def test_get_reads_the_rows_in_the_order_asked(catalog, sky_rows):
    ids = sky_rows["id"].to_numpy()[[3, 700, 1999]].tolist()
    got = catalog.get(ids, columns=["id", "ra"])
    assert got["id"].tolist() == ids


def test_submit_returns_result_with_phase_and_progress(catalog):
    job = catalog.submit("SELECT id, ra FROM sky.object WHERE g_mag < 20")
    table = job.result(timeout_s=60)
    assert job.phase is JobPhase.COMPLETED
    assert job.progress.rows == len(table) > 0
    assert table["ra"].unit == u.deg


def test_submit_error_surfaces_from_result(catalog):
    job = catalog.submit("SELECT nosuch FROM sky.object")
    assert job.wait(60) is JobPhase.ERROR
    with pytest.raises(DALQueryError, match="nosuch"):
        job.result()


def test_cancel_aborts_a_running_job(catalog, monkeypatch):
    from qserv_access import local

    gate = threading.Event()
    real = local.LocalCatalog._start

    def slow_start(self, *args, **kwargs):
        gate.wait(30)  # hold the job in QUEUED until the test has cancelled it
        return real(self, *args, **kwargs)

    monkeypatch.setattr(local.LocalCatalog, "_start", slow_start)
    job = catalog.submit("SELECT id FROM sky.object")
    job.cancel()
    gate.set()
    assert job.wait(60) is JobPhase.ABORTED
    with pytest.raises(qserv_access.QueryCancelled):
        job.result()


def test_cancel_while_reading_batches_stops_the_job(catalog):
    job = catalog.submit("SELECT a.id, b.id FROM sky.object AS a JOIN sky.object AS b "
                         "ON 1 = CONTAINS(POINT('ICRS', b.ra, b.dec), "
                         "CIRCLE('ICRS', a.ra, a.dec, 0.002))")
    job.cancel()
    assert job.wait(60) in (JobPhase.ABORTED, JobPhase.COMPLETED)


def test_connect_to_a_missing_directory_fails_without_creating_it(tmp_path):
    with pytest.raises(QueryRejected, match="does not exist"):
        qserv_access.connect(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()


def test_connect_rejects_other_schemes():
    with pytest.raises(QueryRejected, match="Unsupported URL"):
        qserv_access.connect("ftp://example.org/tap")


def test_ingest_wrapper_publishes_a_table(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    pq.write_table(pa.table({"oid": np.arange(500), "ra": rng.uniform(0, 360, 500),
                             "dec": rng.uniform(-30, 30, 500)}), tmp_path / "in.parquet")
    info = qserv_access.ingest(tmp_path / "dd", "demo.stars", [tmp_path / "in.parquet"],
                               ra="ra", dec="dec", id_column="oid", workers=1)
    assert info.nrows == 500
    with qserv_access.connect(tmp_path / "dd") as cat:
        assert cat.query("SELECT COUNT(*) AS n FROM demo.stars")["n"][0] == 500
