"""pyvo against the real server: what notebooks and scripts do."""

import numpy as np
import pytest
import pyvo
from astropy.table import Table
from pyvo.dal import DALOverflowWarning, DALQueryError

CONE = ("SELECT id, ra, dec, g_mag FROM sky.objects WHERE "
        "CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150.0, 2.0, 0.2)) = 1")


@pytest.fixture(scope="module")
def tap(tap_url):
    return pyvo.dal.TAPService(tap_url)


def test_run_sync_cone_has_units(tap):
    table = tap.run_sync(CONE).to_table()
    assert len(table) > 100
    assert str(table["ra"].unit) == "deg"


def test_run_async(tap):
    table = tap.run_async("SELECT TOP 10 id FROM sky.objects ORDER BY id").to_table()
    assert len(table) == 10


def test_submit_wait_fetch_delete(tap):
    job = tap.submit_job("SELECT COUNT(*) AS n FROM sky.objects")
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=60)
    assert job.phase == "COMPLETED"
    assert int(job.fetch_result().to_table()["n"][0]) == 2000
    job.delete()
    assert job.job_id not in [j.job_id for j in tap.get_job_list()]


def test_abort(tap):
    job = tap.submit_job("SELECT * FROM sky.objects")
    job.abort()
    assert job.phase == "ABORTED"
    job.delete()


def test_error_is_raised_with_the_message(tap):
    with pytest.raises(DALQueryError, match=r"sky\.objects"):
        tap.run_sync("SELECT * FROM sky.objets")


def test_maxrec_cut_is_reported_as_overflow(tap):
    # pyvo >= 1.9 stays silent when the cut is exactly the maxrec the caller asked for
    result = tap.run_sync("SELECT id FROM sky.objects", maxrec=7)
    assert len(result) == 7
    assert result.query_status == "OVERFLOW"


def test_overflow_warning_when_the_service_limit_cuts(tap):
    # the e2e server's default MAXREC is 1000, the table holds 2000 rows
    with pytest.warns(DALOverflowWarning, match="server limits"):
        result = tap.run_sync("SELECT id FROM sky.objects")
    assert len(result) == 1000


def test_upload_cross_match(tap):
    targets = Table({"tid": [1, 2, 3], "ra": [150.0, 150.1, 10.0], "dec": [2.0, 2.05, -40.0]})
    query = ("SELECT t.tid, o.id, o.ra, o.dec FROM TAP_UPLOAD.targets AS t "
             "JOIN sky.objects AS o ON CONTAINS(POINT('ICRS', o.ra, o.dec), "
             "CIRCLE('ICRS', t.ra, t.dec, 0.01)) = 1")
    result = tap.run_sync(query, uploads={"targets": targets}).to_table()
    all_rows = tap.run_sync("SELECT id, ra, dec FROM sky.objects", maxrec=10000).to_table()
    expected = 0
    for ra, dec in zip(targets["ra"], targets["dec"], strict=True):
        d = np.degrees(np.arccos(np.clip(
            np.sin(np.radians(dec)) * np.sin(np.radians(all_rows["dec"]))
            + np.cos(np.radians(dec)) * np.cos(np.radians(all_rows["dec"]))
            * np.cos(np.radians(all_rows["ra"] - ra)), -1, 1)))
        expected += int((d <= 0.01).sum())
    assert len(result) == expected


def test_tables(tap):
    names = [t.name for t in tap.tables]
    assert "sky.objects" in names
    assert "tap_schema.columns" in names
    columns = {c.name: c for c in tap.tables["sky.objects"].columns}
    assert columns["ra"].unit == "deg"


def test_examples_run(tap):
    examples = tap.examples
    assert len(examples) >= 4
    for example in examples:
        example.execute()
