"""The query panel and schema browser, driven by their buttons against the real engine
and a real TAP service on 127.0.0.1."""

from pathlib import Path

import pytest

from qserv_access import JobPhase
from tests.support.waiting import poll

pytest.importorskip("ipywidgets")

ROOT = Path(__file__).resolve().parents[2]

ENDLESS = ("SELECT COUNT(*) AS n FROM sky.object AS a, sky.object AS b, sky.object AS c, "
           "sky.object AS d")
"""1.6e13 rows to count: this job only ends when it is cancelled."""


def _run_and_wait(panel, adql=None):
    if adql is not None:
        panel.editor.value = adql
    panel.run_button.click()
    assert panel.shown is not None, panel.message.value
    assert panel.wait(60), "the job did not end within 60 s"
    return panel.shown


def test_run_shows_a_paged_result_with_units(catalog, sky_rows):
    from qserv_access.widgets import query_panel

    panel = query_panel(catalog, page_size=10)
    assert panel.editor.value == "SELECT TOP 100 * FROM sky.object"
    run = _run_and_wait(panel, "SELECT id, ra, dec, g_mag FROM sky.object WHERE id < 1200 "
                               "ORDER BY id")
    assert run.job.phase is JobPhase.COMPLETED
    assert panel.message.value == ""
    html = panel.table.value
    assert "<th>ra<br><span class='qsa-unit'>[deg]</span></th>" in html
    assert "[mag]" in html
    ids = sorted(i for i in sky_rows["id"].to_pylist() if i < 1200)
    assert len(run.result) == len(ids) > 20
    assert f"<td>{ids[0]}</td>" in html and f"<td>{ids[10]}</td>" not in html
    # float32 magnitudes to the 7 digits they hold, not float64 noise.
    g_mag = sky_rows["g_mag"][sky_rows["id"].to_pylist().index(ids[0])].as_py()
    assert f"<td>{g_mag:.7g}</td>" in html
    assert panel.page_label.value == f"rows 1–10 of {len(ids)}"
    assert panel.prev_button.disabled and not panel.next_button.disabled
    panel.next_button.click()
    assert panel.page_label.value == f"rows 11–20 of {len(ids)}"
    assert f"<td>{ids[10]}</td>" in panel.table.value
    assert f"<td>{ids[0]}</td>" not in panel.table.value
    assert not panel.prev_button.disabled
    panel.prev_button.click()
    assert panel.page == 0
    panel.page_size.value = 50
    assert panel.page_label.value == f"rows 1–{min(50, len(ids))} of {len(ids)}"
    # The bar and the job list show the finished job; the Cancel button is greyed.
    assert run.bar.bar.description == "COMPLETED"
    assert panel.cancel_button.disabled
    assert panel.jobs.options[0][0].startswith(f"{run.job.job_id} · COMPLETED · "
                                               f"{len(ids)} rows · ")
    # Text and HTML fallbacks for a notebook read where widgets do not run.
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    text = bundle["text/plain"]
    assert f"Job {run.job.job_id} COMPLETED" in text
    assert "ra [deg]" in text and str(ids[0]) in text
    assert "VBox" not in text
    assert "qsa-page" in bundle["text/html"] and "COMPLETED" in bundle["text/html"]


def test_an_adql_error_shows_its_message_and_the_job_list_switches(catalog):
    from qserv_access.widgets import query_panel

    panel = query_panel(catalog)
    ok = _run_and_wait(panel, "SELECT TOP 3 id FROM sky.object")
    bad = _run_and_wait(panel, "SELECT FROM sky.object")
    assert bad.job.phase is JobPhase.ERROR
    assert "line 1, column" in panel.message.value
    assert "Traceback" not in panel.message.value
    assert panel.table.value == ""
    assert "line 1, column" in panel._repr_mimebundle_()["text/plain"]
    assert [label.split(" · ")[1] for label, _ in panel.jobs.options] == ["COMPLETED", "ERROR"]
    # Selecting the first job shows its result again.
    panel.jobs.value = 0
    assert panel.shown is ok
    assert panel.message.value == ""
    assert panel.page_label.value == "rows 1–3 of 3"
    panel.run("   ")
    assert "Type an ADQL query" in panel.message.value


def test_cancel_stops_a_slow_query(catalog):
    from qserv_access.widgets import query_panel

    panel = query_panel(catalog, ENDLESS, page_size=10)
    panel.run_button.click()
    run = panel.shown
    assert f"Job {run.job.job_id} " in panel.summary
    assert run.job.phase in (JobPhase.QUEUED, JobPhase.EXECUTING)
    assert not panel.cancel_button.disabled
    # While it runs, page through another job's result: the running job's line is
    # relabelled every second, and that neither switches the shown job nor its page
    # (new options reset a Select to its first entry, which is not the user's pick).
    other = _run_and_wait(panel, "SELECT TOP 40 id FROM sky.object")
    panel.next_button.click()
    assert panel.page == 1
    first_label = panel.jobs.options[0][0]
    assert poll(lambda: panel.jobs.options[0][0] != first_label, 60)
    assert panel.shown is other and panel.jobs.value == 1 and panel.page == 1
    panel.jobs.value = 0
    assert panel.shown is run and not panel.cancel_button.disabled
    panel.cancel_button.click()
    # Without the cancel this job counts for hours.
    assert panel.wait(60)
    assert run.job.phase is JobPhase.ABORTED
    assert "QueryCancelled" in panel.message.value
    assert panel.cancel_button.disabled
    assert run.bar.bar.description == "ABORTED"


def test_schema_browser_lists_the_real_columns(catalog):
    from qserv_access.widgets import schema_browser

    browser = schema_browser(catalog)
    assert list(browser.select.options) == list(catalog.tables)
    assert browser.select.value == "sky.object"
    info = catalog.describe("sky.object")
    html = browser.columns.value
    for column in info.columns:
        assert f"<b>{column.name}</b>" in html
    ra = next(c for c in info.columns if c.name == "ra")
    assert ra.unit == "deg" and ra.ucd.startswith("pos.eq.ra")
    assert f"<td>{ra.unit}</td><td>{ra.ucd}</td>" in html
    text = browser._repr_mimebundle_()["text/plain"]
    assert "sky.object" in text and "ra [deg] pos.eq.ra" in text


@pytest.fixture(scope="module")
def remote(sky_dir, tmp_path_factory):
    import qserv_access
    from tests.support.postgres import free_port
    from tests.support.tap_server import running_tap_server

    if not (ROOT / "tap_service" / "app.py").exists():
        pytest.skip("the TAP service is not there yet")
    with running_tap_server(sky_dir, tmp_path_factory.mktemp("panel"), free_port()) as url:
        cat = qserv_access.connect(url)
        yield cat
        cat.close()


def test_panel_and_browser_on_a_tap_service(remote, catalog):
    from qserv_access.widgets import query_panel, schema_browser

    panel = query_panel(remote, page_size=5)
    run = _run_and_wait(panel, "SELECT id, ra FROM sky.object WHERE id < 1100 ORDER BY id")
    assert run.job.phase is JobPhase.COMPLETED, panel.message.value
    local = catalog.query("SELECT id FROM sky.object WHERE id < 1100 ORDER BY id")
    assert list(run.result["id"]) == list(local["id"])
    assert "[deg]" in panel.table.value
    assert panel.page_label.value == f"rows 1–5 of {len(local)}"
    bad = _run_and_wait(panel, "SELECT FROM sky.object")
    assert bad.job.phase is JobPhase.ERROR
    assert "line 1, column" in panel.message.value
    slow = query_panel(remote, ENDLESS)
    slow.run_button.click()
    assert not slow.cancel_button.disabled
    slow.cancel_button.click()
    assert slow.wait(60)
    assert slow.shown.job.phase is JobPhase.ABORTED
    assert "QueryCancelled" in slow.message.value
    browser = schema_browser(remote)
    assert "sky.object" in browser.select.options
    browser.select.value = "sky.object"
    assert "<b>ra</b>" in browser.columns.value and "deg" in browser.columns.value


def test_missing_ipywidgets_names_the_extra(monkeypatch, catalog):
    import sys

    from qserv_access.errors import MissingExtraError
    from qserv_access.widgets import query_panel, schema_browser

    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(MissingExtraError, match=r"Query panels need ipywidgets: "
                                                r"pip install 'qserv-access\[notebook\]'"):
        query_panel(catalog)
    with pytest.raises(MissingExtraError, match=r"qserv-access\[notebook\]"):
        schema_browser(catalog)
