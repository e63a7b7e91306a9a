"""The search calls as astronomers write them, against the small sky and a director/child pair."""

import numpy as np
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from pyvo.dal.exceptions import DALOverflowWarning

import qserv_access
from qserv_access import QueryRejected


def _unit(ra, dec):
    ra, dec = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _inside_convex(vertices, ra, dec):
    """Brute force: inside a convex spherical polygon given counter-clockwise."""
    v = _unit(*np.asarray(vertices, dtype=float).T)
    p = _unit(ra, dec)
    inside = np.ones(len(p), dtype=bool)
    for i in range(len(v)):
        inside &= p @ np.cross(v[i], v[(i + 1) % len(v)]) >= 0
    return inside


def test_cone_search_takes_center_and_radius_positionally(catalog, sky_rows):
    coord = SkyCoord(150.0 * u.deg, 2.0 * u.deg)
    by_quantity = catalog.cone_search(coord, 3 * u.arcmin)
    by_degrees = catalog.cone_search((150.0, 2.0), 3 / 60)
    by_quantities = catalog.cone_search((150 * u.deg, 2 * u.deg), 0.05 * u.deg)
    assert sorted(by_quantity["id"]) == sorted(by_degrees["id"]) == sorted(by_quantities["id"])
    assert by_quantity["ra"].unit == u.deg
    assert len(catalog.cone_search(coord, 1 * u.deg)) > len(by_quantity)


def test_old_spellings_still_work_and_warn(catalog):
    new = catalog.cone_search((150.0, 2.0), 0.2)
    with pytest.warns(DeprecationWarning, match=r"cone_search\(\(ra, dec\), r\)"):
        old = catalog.cone_search(150.0, 2.0, radius_deg=0.2)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        old_coord = catalog.cone_search(SkyCoord(150.0, 2.0, unit="deg"), radius_deg=0.2)
    assert sorted(old["id"]) == sorted(new["id"]) == sorted(old_coord["id"])
    mine = Table({"ra": [150.0], "dec": [2.0]})
    with pytest.warns(DeprecationWarning, match="radius_arcsec"):
        pairs = catalog.crossmatch(mine, radius_arcsec=720.0, columns=["id"])
    assert sorted(pairs["id"]) == sorted(new["id"])


def test_cone_search_without_radius_says_how(catalog):
    with pytest.raises(QueryRejected, match=r"3 \* u.arcmin"):
        catalog.cone_search((150.0, 2.0))
    with pytest.raises(QueryRejected, match="not a position"):
        catalog.cone_search(150.0, 1.0)


@pytest.mark.parametrize("vertices", [
    [(149.0, 1.0), (151.0, 1.0), (151.0, 3.0), (149.0, 3.0)],
    [(359.0, -1.0), (1.5, -1.0), (0.0, 2.0)],
])
def test_polygon_search_matches_brute_force(catalog, sky_rows, vertices):
    got = catalog.polygon_search(vertices, columns=["id"])
    inside = _inside_convex(vertices, sky_rows["ra"].to_numpy(), sky_rows["dec"].to_numpy())
    assert sorted(got["id"].tolist()) == sorted(sky_rows["id"].to_numpy()[inside].tolist())
    as_coord = SkyCoord([v[0] for v in vertices], [v[1] for v in vertices], unit="deg")
    assert len(catalog.polygon_search(as_coord, columns=["id"])) == len(got)


def test_polygon_needs_three_vertices(catalog):
    with pytest.raises(QueryRejected, match="at least 3"):
        catalog.polygon_search([(1, 1), (2, 2)])


def test_box_search_keeps_rows_near_the_centre(catalog, sky_rows):
    got = catalog.box_search(SkyCoord(150 * u.deg, 2 * u.deg), 1 * u.deg, 30 * u.arcmin,
                             columns=["id", "ra", "dec"])
    assert len(got) > 0
    assert np.all(np.abs(got["ra"] - 150.0) <= 0.5 + 1e-6)
    assert np.all(np.abs(got["dec"] - 2.0) <= 0.25 + 1e-6)
    ra, dec = sky_rows["ra"].to_numpy(), sky_rows["dec"].to_numpy()
    well_inside = (np.abs(ra - 150.0) < 0.49) & (np.abs(dec - 2.0) < 0.24)
    assert set(sky_rows["id"].to_numpy()[well_inside].tolist()) <= set(got["id"].tolist())


def test_describe_and_html(catalog):
    info = catalog.describe("sky.object")
    assert info is catalog.tables["sky.object"] or info == catalog.tables["sky.object"]
    html = info._repr_html_()
    assert "sky.object" in html and "2,000 rows" in html and "mag" in html
    assert "of the sky" in html and "chunks" in html
    overview = catalog._repr_html_()
    assert "<table" in overview and "sky.object" in overview and "2,000" in overview


def test_overflow_warning_says_rows_limit_and_how_to_get_the_rest(catalog):
    with pytest.warns(DALOverflowWarning) as record:
        catalog.cone_search((150.0, 2.0), 5.0, maxrec=3)
    text = str(record[0].message)
    assert "TRUNCATED" in text and "first 3 rows" in text and "maxrec=3" in text
    assert "submit()" in text


@pytest.fixture(scope="module")
def lc_cat(tmp_path_factory):
    """A director table of 40 objects and a child table of 30 epochs each."""
    rng = np.random.default_rng(5)
    n, epochs = 40, 30
    ids = np.arange(1, n + 1, dtype=np.int64)
    objects = pa.table({
        "object_id": ids, "ra": rng.uniform(10, 20, n), "dec": rng.uniform(-5, 5, n)},
        schema=pa.schema([pa.field("object_id", pa.int64()),
                          pa.field("ra", pa.float64(), metadata={"unit": "deg"}),
                          pa.field("dec", pa.float64(), metadata={"unit": "deg"})]))
    owner = np.repeat(ids, epochs)
    mjd = 60000 + rng.permutation(np.tile(np.arange(epochs, dtype=float), n))
    sources = pa.table({
        "source_id": np.arange(len(owner), dtype=np.int64), "object_id": owner,
        "mjd": mjd, "psf_flux": rng.normal(100, 5, len(owner))},
        schema=pa.schema([
            pa.field("source_id", pa.int64()), pa.field("object_id", pa.int64()),
            pa.field("mjd", pa.float64(), metadata={"unit": "d", "ucd": "time.epoch"}),
            pa.field("psf_flux", pa.float64(), metadata={"unit": "nJy"})]))
    data_dir = tmp_path_factory.mktemp("lc") / "data"
    qserv_access.ingest(data_dir, "lc.object", [objects], ra="ra", dec="dec",
                        id_column="object_id", workers=1)
    qserv_access.ingest(data_dir, "lc.source", [sources], director="lc.object",
                        director_key="object_id", id_column="source_id", workers=1)
    cat = qserv_access.connect(data_dir, workers=2)
    yield cat, sources
    cat.close()


def test_light_curve_is_the_objects_sources_sorted_by_time_with_units(lc_cat):
    cat, sources = lc_cat
    curve = cat.light_curve(7)
    mine = sources.filter(np.asarray(sources["object_id"]) == 7)
    assert len(curve) == mine.num_rows == 30
    assert curve["mjd"].tolist() == sorted(mine["mjd"].to_pylist())
    assert curve["psf_flux"].unit == u.nJy and curve["mjd"].unit == u.day
    assert set(curve["object_id"]) == {7}
    assert cat.light_curve(7, columns=["mjd", "psf_flux"]).colnames == ["mjd", "psf_flux"]


def test_light_curve_errors_name_the_fix(lc_cat, catalog):
    cat, _ = lc_cat
    with pytest.raises(QueryRejected, match="nope"):
        cat.light_curve(7, time_column="nope")
    with pytest.raises(QueryRejected, match=r"Unknown table 'lc\.sources'"):
        cat.light_curve(7, source="lc.sources")
    with pytest.raises(QueryRejected, match="--director"):
        catalog.light_curve(1)
    assert len(cat.light_curve(10_000)) == 0


def test_the_same_calls_through_a_tap_service(lc_cat, tmp_path_factory):
    """light_curve finds the director/child link in TAP_SCHEMA.keys, remote as local."""
    from tests.support.postgres import free_port
    from tests.support.tap_server import running_tap_server

    cat, _ = lc_cat
    with running_tap_server(cat.data_dir, tmp_path_factory.mktemp("lc-tap"),
                            free_port()) as url, qserv_access.connect(url) as remote:
        curve = remote.light_curve(7)
        rows = remote.get([5, 3], table="lc.object", columns=["object_id", "ra"])
        cone = remote.cone_search(SkyCoord(15 * u.deg, 0 * u.deg), 3 * u.deg)
        html = remote._repr_html_()
    local = cat.light_curve(7)
    assert curve["mjd"].tolist() == local["mjd"].tolist()
    assert curve["psf_flux"].unit == u.nJy
    assert rows["object_id"].tolist() == [5, 3]
    assert sorted(cone["object_id"]) == sorted(
        cat.cone_search(SkyCoord(15 * u.deg, 0 * u.deg), 3 * u.deg)["object_id"])
    assert "lc.object" in html and "lc.source" in html
