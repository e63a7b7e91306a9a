"""A running async job's progress (chunks done / total, rows) reaches its UWS jobInfo.

Real engine and runner over SQLite; the client's parser reads what the service writes.
"""

import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tap_service.uws.store import Job, JobStore, Phase
from tap_service.uws.xml import job_xml
from tests.tap_service.test_job_service import BIG, SMALL, finished, job_service, wait_for

CHUNKED = "SELECT id, ra, dec FROM sky.objects WHERE dec > -30"


def _client_progress(document: str):
    from pyvo.io.uws import parse_job

    from qserv_access.jobs import progress_from_jobinfo

    parsed = parse_job(io.BytesIO(document.encode()))
    return str(parsed.phase), progress_from_jobinfo(parsed.jobinfo)


def test_completed_job_reports_every_chunk_and_its_rows(tap_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    with job_service(tap_engine, tmp_path, url) as jobs:
        expected_rows = tap_engine.query(CHUNKED).to_table().num_rows
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": CHUNKED}, run=True)
        done = finished(jobs, "alice", job.job_id)
        assert done.phase == Phase.COMPLETED
        plan = tap_engine.plan(CHUNKED)
        total = sum(max(1, len(t.chunks)) for t in plan.tasks)
        assert (done.chunks_done, done.chunks_total, done.rows_done) == (
            total, total, expected_rows)
        document = job_xml(done, "http://x/tap/async/" + done.job_id, show_owner=False)
        assert "<pct_complete>100</pct_complete>" in document
        assert _client_progress(document) == ("COMPLETED", (total, total, expected_rows))

        small = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        assert finished(jobs, "alice", small.job_id).rows_done == 300


def test_executing_job_shows_rows_so_far_in_job_info(tap_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    with job_service(tap_engine, tmp_path, url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": BIG, "MAXREC": "10000000"},
                          run=True)
        running = wait_for(lambda: (j := jobs.get("alice", job.job_id)).phase == Phase.EXECUTING
                           and (j.rows_done or 0) > 0 and j, what="progress of the running job")
        phase, (done, total, rows) = _client_progress(
            job_xml(running, "http://x/tap/async/" + job.job_id, show_owner=False))
        assert phase == "EXECUTING"
        assert total is not None and total >= 1 and done is not None and done <= total
        assert 0 < rows < 10_000_000
        later = wait_for(lambda: (j := jobs.get("alice", job.job_id)).rows_done > rows and j,
                         what="the rows count to grow")
        assert later.phase == Phase.EXECUTING
        assert jobs.set_phase("alice", job.job_id, "ABORT").phase == Phase.ABORTED


def test_job_database_from_before_progress_gets_the_columns(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sa.create_engine(f"sqlite:///{path}")
    with old.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE uws_jobs (job_id VARCHAR(64) PRIMARY KEY, owner VARCHAR(200) NOT NULL,"
            " run_id VARCHAR(200), phase VARCHAR(16) NOT NULL, creation_time DATETIME NOT NULL,"
            " start_time DATETIME, end_time DATETIME, execution_duration_s INTEGER NOT NULL,"
            " destruction DATETIME NOT NULL, parameters TEXT NOT NULL, error_message TEXT,"
            " error_transient BOOLEAN, result_path TEXT, result_mime VARCHAR(200),"
            " result_size BIGINT, overflow BOOLEAN)")
        conn.exec_driver_sql(
            "INSERT INTO uws_jobs (job_id, owner, phase, creation_time, execution_duration_s,"
            " destruction, parameters) VALUES ('old1', 'me', 'COMPLETED',"
            " '2026-01-01 00:00:00', 60, '2027-01-01 00:00:00', '{}')")
    old.dispose()
    store = JobStore(f"sqlite:///{path}")
    try:
        job = store.get("old1")
        assert job is not None and job.chunks_total is None
        assert "jobInfo" not in job_xml(job, "http://x/tap/async/old1", show_owner=False)
        assert store.update("old1", chunks_done=2, chunks_total=4, rows_done=7)
        assert store.get("old1").chunks_done == 2
        now = datetime.now(UTC)
        store.add(Job("new1", "me", Phase.PENDING, now, 60, now))
        assert store.get("new1").rows_done is None
    finally:
        store.close()


@pytest.mark.parametrize(("done", "total", "percent"), [(0, 7, 0), (7, 7, 100), (0, 0, 100)])
def test_job_info_percent(done, total, percent):
    now = datetime.now(UTC)
    job = Job("j", "me", Phase.EXECUTING, now, 60, now, chunks_done=done, chunks_total=total)
    assert f"<pct_complete>{percent}</pct_complete>" in job_xml(job, "u", show_owner=False)
