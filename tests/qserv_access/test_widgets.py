import sys

import pytest

from qserv_access import JobPhase, MissingExtraError

pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")


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
    hist = plot_histogram(table, "g_mag")
    assert hist.get_xlabel() == "g_mag [mag]"


def test_progress_bar_follows_a_job_to_completion(catalog):
    from qserv_access.widgets import watch

    job = catalog.submit("SELECT id FROM sky.object")
    bar = watch(job)
    job.wait(60)
    bar._thread.join(10)
    assert job.phase is JobPhase.COMPLETED
    assert bar.bar.description == "COMPLETED"
    assert bar.bar.bar_style == "success"
    assert bar.button.disabled


def test_missing_ipywidgets_names_the_extra(monkeypatch, catalog):
    from qserv_access.widgets import progress

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    job = catalog.submit("SELECT TOP 1 id FROM sky.object")
    with pytest.raises(ImportError, match=r"qserv-access\[notebook\]"):
        progress.JobProgressBar(job)
    with pytest.raises(MissingExtraError):
        progress.JobProgressBar(job)
    job.wait(60)
