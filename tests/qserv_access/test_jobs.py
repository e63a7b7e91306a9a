"""Jobs: progress read from the service's jobInfo, re-attaching by URL, time-outs.

A real TAP server on loopback (as in test_remote) and the embedded engine; the endless
query is a four-way cross join of the small sky (1.6e13 rows): it only ever ends by
being cancelled or timed out.
"""

from __future__ import annotations

import time

import pytest
from pyvo.dal import DALQueryError

import qserv_access
from qserv_access import Job, JobPhase, QueryRejected, QueryTimeout


@pytest.fixture(scope="module")
def tap_url(sky_dir, tmp_path_factory):
    from tests.support.postgres import free_port
    from tests.support.tap_server import running_tap_server

    with running_tap_server(sky_dir, tmp_path_factory.mktemp("jobs"), free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def remote(tap_url):
    cat = qserv_access.connect(tap_url)
    yield cat
    cat.close()


ENDLESS = ("SELECT COUNT(*) AS n FROM sky.object AS a, sky.object AS b, sky.object AS c, "
           "sky.object AS d")


def test_timeout_is_a_distinct_documented_query_error():
    assert issubclass(QueryTimeout, qserv_access.QueryLimitExceeded)
    assert issubclass(QueryTimeout, DALQueryError)
    assert "time limit" in (QueryTimeout.__doc__ or "")


def test_remote_job_progress_comes_from_job_info(remote):
    job = remote.submit("SELECT id, ra FROM sky.object WHERE dec > 0")
    table = job.result(timeout_s=60)
    progress = job.progress
    assert progress.phase is JobPhase.COMPLETED
    assert progress.chunks_total is not None and progress.chunks_total >= 1
    assert progress.chunks_done == progress.chunks_total
    assert progress.rows == len(table) > 0
    assert progress.fraction == 1.0
    assert progress.summary().startswith(
        f"COMPLETED: {progress.chunks_done} of {progress.chunks_total} chunk")


def test_job_is_reattached_by_its_url(remote):
    job = remote.submit("SELECT COUNT(*) AS n FROM sky.object")
    assert job.result(timeout_s=60)["n"][0] == 2000
    again = Job.from_url(job.url)
    assert again.job_id == job.job_id
    assert again.adql == "SELECT COUNT(*) AS n FROM sky.object"
    assert again.phase is JobPhase.COMPLETED
    assert again.result()["n"][0] == 2000
    assert again.progress.chunks_done == again.progress.chunks_total


def test_reattaching_an_unknown_job_says_so(tap_url):
    with pytest.raises(QueryRejected):
        Job.from_url(tap_url + "/async/nosuchjob")


def test_waiting_past_timeout_raises_query_timeout_and_the_job_keeps_running(remote):
    job = remote.submit(ENDLESS)
    try:
        with pytest.raises(QueryTimeout, match="keeps running"):
            job.result(timeout_s=0.5)
        assert job.phase in (JobPhase.QUEUED, JobPhase.EXECUTING)
        # While it runs, the service's jobInfo says how far it is (one task, none done).
        deadline = time.monotonic() + 30
        while job.progress.chunks_total is None and time.monotonic() < deadline:
            time.sleep(0.05)
        running = job.progress
        assert running.phase is JobPhase.EXECUTING
        assert (running.chunks_done, running.chunks_total, running.rows) == (0, 1, 0)
        assert running.summary().startswith("EXECUTING: 0 of 1 chunk, 0 rows, ")
        again = Job.from_url(job.url)
        assert again.phase in (JobPhase.QUEUED, JobPhase.EXECUTING)
    finally:
        job.cancel()
    assert job.wait(60) is JobPhase.ABORTED


def test_execution_duration_reached_raises_query_timeout(tap_url):
    from pyvo.dal import TAPService

    pyvo_job = TAPService(tap_url).submit_job(ENDLESS)
    pyvo_job.execution_duration = 1
    pyvo_job.run()
    job = Job.from_url(pyvo_job.url)
    with pytest.raises(QueryTimeout, match="execution duration"):
        job.result(timeout_s=60)
    assert job.phase is JobPhase.ERROR


def test_embedded_job_progress_counts_the_engine_chunks(catalog):
    job = catalog.submit("SELECT id FROM sky.object WHERE dec > 0")
    table = job.result(timeout_s=60)
    progress = job.progress
    plan_chunks = sum(max(1, len(t.chunks)) for t in job._result.plan.tasks)
    assert progress.chunks_done == progress.chunks_total == plan_chunks >= 1
    assert progress.rows == len(table) > 0
    assert progress.fraction == 1.0
    assert progress.summary().startswith(f"COMPLETED: {plan_chunks} of {plan_chunks} chunk")


def test_embedded_wait_past_timeout_raises_query_timeout(catalog):
    job = catalog.submit(ENDLESS)
    try:
        with pytest.raises(QueryTimeout, match=r"after 0\.3 s; it keeps running"):
            job.result(timeout_s=0.3)
        assert not job.progress.chunks_done
        assert job.progress.phase in (JobPhase.QUEUED, JobPhase.EXECUTING)
    finally:
        job.cancel()
    assert job.wait(60) is JobPhase.ABORTED


def test_embedded_positions_print_to_sub_milliarcsecond_not_17_digits(catalog):
    table = catalog.query("SELECT TOP 1 id, ra, dec FROM sky.object WHERE ra > 1 ORDER BY id")
    assert table["ra"].info.format == ".7f"
    shown = table.pformat()[-1].split()
    assert len(shown[1].split(".")[1]) == 7
    assert table["ra"][0] == float(table.to_pandas()["ra"][0])  # values untouched


def test_remote_positions_print_to_sub_milliarcsecond_not_17_digits(remote):
    job = remote.submit("SELECT TOP 1 id, ra, dec FROM sky.object WHERE ra > 1 ORDER BY id")
    table = job.result(timeout_s=60)
    assert "7f" in str(table["ra"].info.format)
    assert len(table.pformat()[-1].split()[1].split(".")[1]) == 7
    sync = remote.query("SELECT TOP 1 id, ra, dec FROM sky.object WHERE ra > 1 ORDER BY id")
    assert "7f" in str(sync["ra"].info.format), sync.meta.get("response_format")
