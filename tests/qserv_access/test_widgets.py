import sys

import numpy as np
import pytest
from astropy.table import Table

from qserv_access import JobPhase, MissingExtraError
from tests.support.waiting import poll

pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

ENDLESS = ("SELECT COUNT(*) AS n FROM sky.object AS a, sky.object AS b, sky.object AS c, "
           "sky.object AS d")
"""1.6e13 rows to count: this job only ends when it is cancelled."""


@pytest.fixture(autouse=True)
def _agg_backend():
    import matplotlib

    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_plot_sky_and_histogram_draw_with_units(catalog):
    from qserv_access.widgets import plot_histogram, plot_sky

    table = catalog.query("SELECT ra, dec, g_mag FROM sky.object")
    ax = plot_sky(table, color="g_mag")
    assert ax.name == "mollweide"
    assert len(ax.collections[0].get_offsets()) == len(table)
    hist = plot_histogram(table, "g_mag", title="all rows")
    assert hist.get_xlabel() == "g_mag [mag]"
    assert hist.get_title() == "all rows"


@pytest.mark.parametrize("ra", [0.0, 30.0, 90.0, 150.0, 210.0, 270.0, 330.0])
def test_sky_map_labels_the_meridian_under_a_point_with_its_ra(ra):
    """The label under a single point at (ra, 0) names that RA (it said ra + 180 before)."""
    from qserv_access.widgets.plots import plot_sky, ra_labels

    ax = plot_sky(Table({"ra": [ra], "dec": [0.0]}), s=20)
    labels = ra_labels(ax)
    x_point = ax.transData.transform(ax.collections[0].get_offsets()[0])[0]
    nearest = min(labels, key=lambda item: abs(item[0] - x_point))
    assert nearest[1] == f"{ra:.0f}°"
    assert abs(nearest[0] - x_point) < 2.0  # pixels


def test_sky_map_ra_increases_to_the_left_and_labels_sit_below_the_map():
    from qserv_access.widgets.plots import plot_sky, ra_labels

    ax = plot_sky(Table({"ra": [10.0, 50.0], "dec": [-89.0, 89.0]}), title="one row")
    x10, x50 = (ax.transData.transform(p)[0] for p in ax.collections[0].get_offsets())
    assert x50 < x10
    bottom = ax.get_window_extent().y0
    assert all(t.get_window_extent().y1 <= bottom + 1 for t in ax.texts
               if t.get_gid() == "ra-label")
    assert [text for _, text in ra_labels(ax)][:3] == ["150°", "120°", "90°"]
    assert "RA" in " ".join(t.get_text() for t in ax.texts)
    assert ax.get_ylabel().startswith("Dec")
    assert ax.get_title() == "one row"
    assert plot_sky(Table({"ra": [1.0], "dec": [2.0]})).get_title() == "1 row"


def test_density_of_a_whole_table_is_counted_by_the_engine(catalog, sky_rows):
    import healpy as hp

    from qserv_access.widgets import plot_density
    from qserv_access.widgets.plots import density_counts

    expected_pix = hp.ang2pix(8, sky_rows["ra"].to_numpy(), sky_rows["dec"].to_numpy(),
                              nest=True, lonlat=True)
    for order in (0, 3, 9):
        ipix, n = density_counts(catalog, "sky.object", order=order)
        nside = 1 << order
        want = hp.ang2pix(nside, sky_rows["ra"].to_numpy(), sky_rows["dec"].to_numpy(),
                          nest=True, lonlat=True)
        want_pix, want_n = np.unique(want, return_counts=True)
        assert ipix.tolist() == want_pix.tolist()
        assert n.tolist() == want_n.tolist()
    ax = plot_density(catalog, "sky.object", order=3)
    assert ax.get_title() == "sky.object: 2,000 rows, HEALPix order 3"
    mesh = ax.collections[0]
    assert mesh.get_array().count() > 0
    assert len(np.unique(expected_pix)) > 100


def test_density_of_a_result_and_errors(catalog):
    from pyvo.dal import DALQueryError

    from qserv_access.errors import QueryRejected
    from qserv_access.widgets import plot_density
    from qserv_access.widgets.plots import density_counts

    cone = catalog.query("SELECT ra, dec FROM sky.object WHERE "
                         "1 = CONTAINS(POINT(ra, dec), CIRCLE(150, 2, 1))")
    _ipix, n = density_counts(cone, order=6)
    assert n.sum() == len(cone) > 0
    assert plot_density(cone, order=6).get_title() == f"{len(cone):,} rows, HEALPix order 6"
    with pytest.raises(QueryRejected, match="no_such"):
        density_counts(catalog, "sky.no_such", order=3)
    with pytest.raises(DALQueryError, match=r"outside 0\.\.12"):
        density_counts(catalog, "sky.object", order=13)


def test_progress_bar_follows_a_job_to_completion_with_a_text_summary(catalog):
    from qserv_access.widgets import watch

    job = catalog.submit("SELECT id FROM sky.object WHERE id = 1007")
    bar = watch(job)
    job.wait(60)
    bar._thread.join(10)
    assert job.phase is JobPhase.COMPLETED
    assert bar.bar.description == "COMPLETED"
    assert bar.bar.bar_style == "success"
    assert bar.bar.value == 1.0
    # Finished: nothing to cancel, and the button no longer looks like a warning.
    assert bar.button.disabled
    assert bar.button.button_style == ""
    assert bar.button.description == "Done"
    bundle = bar._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    assert text.startswith(f"Job {job.job_id} COMPLETED: ")
    assert "1 row," in text and "rows" not in text
    assert text.endswith(" ms") or text.endswith(" s")
    assert "HBox" not in text
    html = bundle["text/html"]
    assert "<progress" in html and "COMPLETED" in html and "1 row" in html
    assert bar.label.value == text.split(": ", 1)[1]


def test_cancel_button_stops_a_running_job(catalog):
    from qserv_access.widgets import watch

    job = catalog.submit(ENDLESS)
    bar = watch(job)
    assert poll(lambda: job.phase is JobPhase.EXECUTING, 60)
    assert not bar.button.disabled
    assert bar.button.button_style == "warning"
    bar.button.click()
    # wait() returns ABORTED only once the job's thread has ended, i.e. DuckDB stopped
    # counting: without the cancel this query runs for hours.
    assert job.wait(60) is JobPhase.ABORTED
    bar._thread.join(10)
    assert bar.bar.description == "ABORTED"
    assert bar.button.description == "Cancelled"
    assert bar.button.button_style == ""
    assert "ABORTED" in bar._repr_mimebundle_()["text/plain"]


def test_missing_ipywidgets_names_the_extra(monkeypatch, catalog):
    from qserv_access.widgets import progress

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    job = catalog.submit("SELECT TOP 1 id FROM sky.object")
    with pytest.raises(ImportError, match=r"qserv-access\[notebook\]"):
        progress.JobProgressBar(job)
    with pytest.raises(MissingExtraError):
        progress.JobProgressBar(job)
    job.wait(60)
