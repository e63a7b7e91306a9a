"""The cone scatter (circle drawn on the sky) and the Aladin view, on real cone results."""

import sys

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def _agg_backend():
    import matplotlib

    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _line(ax, gid):
    return next(line for line in ax.lines if line.get_gid() == gid)


def test_cone_plot_draws_the_circle_at_the_radius_and_ra_to_the_left(catalog):
    from qserv_access.widgets import plot_cone

    centre = SkyCoord(150 * u.deg, 2 * u.deg)
    rows = catalog.cone_search(centre, 1.5 * u.deg)
    assert len(rows) > 5
    ax = plot_cone(rows, centre, 1.5 * u.deg, color="g_mag")
    circle = _line(ax, "cone").get_xydata()
    # Every point of the drawn circle is 1.5 deg (great circle) from the centre.
    sep = centre.separation(SkyCoord(circle[:, 0] * u.deg, circle[:, 1] * u.deg)).deg
    assert np.allclose(sep, 1.5, atol=1e-9)
    # RA increases to the left; the axes say so, with units.
    left, right = ax.get_xlim()
    assert left > right
    assert ax.get_xlabel() == "RA (ICRS) [deg], increasing to the left"
    assert ax.get_ylabel() == "Dec (ICRS) [deg]"
    # Every row found lies inside the circle as drawn on the page.
    from matplotlib.path import Path

    path = Path(ax.transData.transform(circle))
    points = ax.transData.transform(ax.collections[0].get_offsets())
    assert path.contains_points(points).all()
    assert ax.get_title() == f"{len(rows):,} rows within 1.5° of (150°, +2°)"


def test_cone_plot_at_high_dec_and_across_ra_zero():
    from qserv_access.widgets import plot_cone

    # At Dec 60 a degree of RA is half a degree on the sky: the circle is twice as wide in
    # RA as in Dec, and drawn round on the page (aspect 1/cos(Dec)).
    ax = plot_cone(Table({"ra": [0.2, 359.6], "dec": [60.1, 59.8]}), (0.0, 60.0),
                   30 * u.arcmin)
    circle = _line(ax, "cone").get_xydata()
    ra_span = circle[:, 0].max() - circle[:, 0].min()
    dec_span = circle[:, 1].max() - circle[:, 1].min()
    assert ra_span == pytest.approx(2.0 * dec_span, rel=0.01)
    box = ax.transData.transform(circle)
    width, height = np.ptp(box[:, 0]), np.ptp(box[:, 1])
    assert width == pytest.approx(height, rel=0.02)
    # The row at RA 359.6 sits right of (west of) the centre, near the circle, not 360 deg off.
    x = ax.collections[0].get_offsets()[:, 0]
    assert x.tolist() == pytest.approx([0.2, -0.4])
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert all(0 <= float(v) < 360 for v in labels)
    assert ax.get_title() == "2 rows within 30′ of (0°, +60°)"
    from qserv_access.errors import QueryRejected

    with pytest.raises(QueryRejected, match="contains a pole"):
        plot_cone(Table({"ra": [0.0], "dec": [89.5]}), (0.0, 89.5), 1.0)


def test_aladin_view_of_a_cone_result(catalog):
    pytest.importorskip("ipyaladin")
    from qserv_access.widgets import aladin_view

    rows = catalog.cone_search((150.0, 2.0), 0.5)
    view = aladin_view(rows, 0.5 * u.deg, center=(150.0, 2.0))
    assert view.center == (150.0, 2.0)
    assert view.fov_deg == pytest.approx(1.2)
    assert view.widget.target.ra.deg == pytest.approx(150.0)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == (f"Aladin view at RA 150.00000°, Dec +2.00000°, field "
                                    f"1.2°, {len(rows):,} rows, cone radius 0.5°")
    assert "aladin.cds.unistra.fr" in bundle["text/html"]
    # Without a centre, the rows' mean position (on the sphere) and their spread.
    around = aladin_view(Table({"ra": [359.0, 1.0], "dec": [0.0, 0.0]}))
    assert around.center == (0.0, 0.0)
    assert around.fov_deg == pytest.approx(2.4)
    assert aladin_view(SkyCoord(10 * u.deg, -5 * u.deg)).summary.startswith(
        "Aladin view at RA 10.00000°, Dec -5.00000°")


def test_aladin_view_without_ipyaladin_names_the_extra(monkeypatch):
    from qserv_access.errors import MissingExtraError
    from qserv_access.widgets import aladin_view

    monkeypatch.setitem(sys.modules, "ipyaladin", None)
    with pytest.raises(MissingExtraError, match=r"Aladin views need ipyaladin: "
                                                r"pip install 'qserv-access\[notebook\]'"):
        aladin_view((150.0, 2.0))


@pytest.mark.parametrize("name", ["qserv_access.widgets.cone_plot",
                                  "qserv_access.widgets.aladin"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    tests = doctest.DocTestFinder(exclude_empty=True).find(importlib.import_module(name))
    assert sum(len(t.examples) for t in tests) > 0
    runner = doctest.DocTestRunner()
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_aladin_view_sends_any_result_and_other_position_names():
    pytest.importorskip("ipyaladin")
    import warnings

    from qserv_access.widgets import aladin_view
    from qserv_access.widgets.aladin import _for_aladin

    rows = Table({"RAJ2000": [10.0, 10.1], "DEJ2000": [-5.0, -5.1],
                  "flag": np.array([1, -1], dtype=np.int8),
                  "name": np.array(["a", "b"], dtype=object),
                  "frac": [1.0, 2.0]})
    rows["frac"].unit = "%"
    sent = _for_aladin(rows, "RAJ2000", "DEJ2000")
    assert sent.colnames[:2] == ["ra", "dec"] and sent["flag"].dtype == np.int16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view = aladin_view(rows, ra="RAJ2000", dec="DEJ2000")
    assert view.rows == 2
    assert view.center[1] == pytest.approx(-5.05, abs=1e-3)
