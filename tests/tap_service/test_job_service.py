"""The UWS job logic driven directly (no HTTP): real engine, real runner, SQLite and PostgreSQL."""

import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tap_service.config import TapSettings
from tap_service.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from tap_service.uws.runner import JobRunner
from tap_service.uws.service import JobService, QuotaError
from tap_service.uws.store import JobStore, Phase

BIG = "SELECT a.id, a.ra, a.dec, b.source_id, b.mjd FROM sky.objects AS a, sky.sources AS b"
"""Twelve million rows: a result of hundreds of MB that takes a while to write."""
SMALL = "SELECT TOP 300 id, ra, dec FROM sky.objects ORDER BY id"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    store = JobStore(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM uws_jobs")
    store.close()
    return url


@contextmanager
def job_service(engine, root: Path, url: str, *, private=True, **overrides):
    settings = TapSettings(data_dir=root, work_dir=root / "work", **overrides)
    store = JobStore(url)
    runner = JobRunner(store, engine, settings)
    runner.start()
    try:
        yield JobService(store, runner, settings, private=private)
    finally:
        runner.stop()
        store.close()


def wait_for(predicate, timeout_s=90.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def finished(service, owner, job_id):
    return wait_for(lambda: (j := service.get(owner, job_id)).phase in
                    (Phase.COMPLETED, Phase.ERROR, Phase.ABORTED) and j, what=f"job {job_id}")


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if not p.is_dir()] if folder.exists() else []


def idle(service):
    return wait_for(lambda: service.runner.running_count() == 0, what="the runner to go idle")


def test_job_runs_to_a_result_without_http(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run_id="r1", run=True)
        assert job.phase in (Phase.QUEUED, Phase.EXECUTING, Phase.COMPLETED)
        done = finished(jobs, "alice", job.job_id)
        assert done.phase == Phase.COMPLETED, done.error_message
        result = jobs.result("alice", job.job_id)
        assert Path(result.result_path).stat().st_size == result.result_size > 0
        assert [j.job_id for j in jobs.list("alice")] == [job.job_id]
        assert jobs.list("bob") == []
        with pytest.raises(ForbiddenError):
            jobs.get("bob", job.job_id)
        jobs.delete("alice", job.job_id)
        with pytest.raises(NotFoundError):
            jobs.get("alice", job.job_id)
        assert not jobs.runner.job_dir(job.job_id).exists()


def test_pending_job_changes_and_phase_rules(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url, max_execution_duration=600,
                     default_execution_duration=60) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": "SELECT 1"})
        assert job.phase == Phase.PENDING
        assert jobs.set_execution_duration("alice", job.job_id, 10**9).execution_duration_s == 600
        changed = jobs.update("alice", job.job_id, {"QUERY": SMALL})
        assert changed.parameters["QUERY"] == SMALL
        with pytest.raises(InvalidRequestError, match="RUN or ABORT"):
            jobs.set_phase("alice", job.job_id, "HOLD")
        assert jobs.set_phase("alice", job.job_id, "abort").phase == Phase.ABORTED
        with pytest.raises(ConflictError, match="only a PENDING job"):
            jobs.set_phase("alice", job.job_id, "RUN")
        with pytest.raises(ConflictError, match="parameters are fixed"):
            jobs.update("alice", job.job_id, {"QUERY": "SELECT 2"})


def test_failed_job_result_says_why(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": "SELECT * FROM sky.objets"},
                          run=True)
        assert finished(jobs, "alice", job.job_id).phase == Phase.ERROR
        with pytest.raises(NotFoundError, match=r"failed and has no result: .*sky\.objects"):
            jobs.result("alice", job.job_id)
        assert "sky.objects" in jobs.error("alice", job.job_id)


def test_owner_cannot_hold_more_unfinished_jobs_than_the_limit(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url, max_active_jobs_per_owner=3) as jobs:
        made = [jobs.create("alice", {"LANG": "ADQL", "QUERY": "SELECT 1"}) for _ in range(3)]
        with pytest.raises(QuotaError, match=r"3 unfinished async jobs.*limit per owner is 3"):
            jobs.create("alice", {"LANG": "ADQL", "QUERY": "SELECT 1"})
        jobs.create("bob", {"LANG": "ADQL", "QUERY": "SELECT 1"})  # others are not affected
        jobs.delete("alice", made[0].job_id)
        jobs.create("alice", {"LANG": "ADQL", "QUERY": "SELECT 1"})
        jobs.set_phase("alice", made[1].job_id, "ABORT")  # finished jobs do not count
        jobs.create("alice", {"LANG": "ADQL", "QUERY": "SELECT 1"})
        assert QuotaError.status == 429


def test_result_over_the_job_byte_limit_fails_and_leaves_no_file(tap_engine, tmp_path,
                                                                 store_url):
    with job_service(tap_engine, tmp_path, store_url, max_result_bytes=200_000) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": BIG, "MAXREC": "2000000"},
                          run=True)
        done = finished(jobs, "alice", job.job_id)
        assert done.phase == Phase.ERROR
        assert "limit of 200000 bytes for one result" in done.error_message
        idle(jobs)
        assert files_under(jobs.runner.job_dir(job.job_id)) == []
        small = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        assert finished(jobs, "alice", small.job_id).phase == Phase.COMPLETED


def test_owner_result_quota_stops_jobs_and_refuses_new_ones(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        first = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        size = finished(jobs, "alice", first.job_id).result_size
    quota = size + size // 2
    with job_service(tap_engine, tmp_path, store_url, max_result_bytes_per_owner=quota) as jobs:
        second = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        done = finished(jobs, "alice", second.job_id)
        assert done.phase == Phase.ERROR
        assert f"result quota of {quota} bytes ({size} bytes are held" in done.error_message
        idle(jobs)
        assert files_under(jobs.runner.job_dir(second.job_id)) == []
        bob = jobs.create("bob", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        assert finished(jobs, "bob", bob.job_id).phase == Phase.COMPLETED
    with job_service(tap_engine, tmp_path, store_url, max_result_bytes_per_owner=size) as jobs:
        with pytest.raises(QuotaError, match=f"take {size} bytes; the limit per owner is {size}"):
            jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL})
        jobs.delete("alice", first.job_id)
        jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL})


def test_aborted_big_job_leaves_no_partial_file(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": BIG, "MAXREC": "10000000"},
                          run=True)
        folder = jobs.runner.job_dir(job.job_id)
        wait_for(lambda: any(p.stat().st_size > 100_000 for p in files_under(folder)),
                 what="the result file to grow")
        assert jobs.set_phase("alice", job.job_id, "ABORT").phase == Phase.ABORTED
        idle(jobs)
        assert files_under(folder) == []
        with pytest.raises(NotFoundError, match="was aborted and has no result"):
            jobs.result("alice", job.job_id)


def test_timed_out_job_leaves_no_partial_file(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": BIG, "MAXREC": "10000000"},
                          execution_duration_s=1, run=True)
        done = finished(jobs, "alice", job.job_id)
        assert done.phase == Phase.ERROR
        assert "1 s" in done.error_message
        idle(jobs)
        assert files_under(jobs.runner.job_dir(job.job_id)) == []


def test_full_disk_is_reported_and_later_jobs_run(tap_engine, tmp_path, store_url):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full to make writes fail with ENOSPC")
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL})
        folder = jobs.runner.job_dir(job.job_id)
        folder.mkdir(parents=True)
        # The kernel answers every write to /dev/full with ENOSPC, as a full disk does.
        (folder / "result.partial").symlink_to("/dev/full")
        jobs.set_phase("alice", job.job_id, "RUN")
        done = finished(jobs, "alice", job.job_id)
        assert done.phase == Phase.ERROR
        assert done.error_transient is True
        assert f"The result store on {jobs.runner.jobs_dir} is full: " in done.error_message
        assert "bytes free" in done.error_message
        assert "Internal error" not in done.error_message
        idle(jobs)
        assert files_under(folder) == []
        again = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        assert finished(jobs, "alice", again.job_id).phase == Phase.COMPLETED


def test_partials_left_by_a_killed_process_are_removed_at_start(tap_engine, tmp_path,
                                                               store_url):
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        running = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL})
        done = jobs.create("alice", {"LANG": "ADQL", "QUERY": SMALL}, run=True)
        finished(jobs, "alice", done.job_id)
        # What a process killed mid-write leaves: an EXECUTING job and partial files.
        jobs.store.update(running.job_id, phase=Phase.EXECUTING)
        for job in (running, done):
            folder = jobs.runner.job_dir(job.job_id)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "result.partial").write_bytes(b"x" * 1000)
        jobs.runner.stop()
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        assert not (jobs.runner.job_dir(done.job_id) / "result.partial").exists()
        assert finished(jobs, "alice", running.job_id).phase == Phase.COMPLETED
        assert not (jobs.runner.job_dir(running.job_id) / "result.partial").exists()
        assert jobs.result("alice", done.job_id).result_size > 0


def test_anonymous_service_shows_every_job(tap_engine, tmp_path, store_url):
    with job_service(tap_engine, tmp_path, store_url, private=False) as jobs:
        job = jobs.create("anonymous@10.0.0.1", {"LANG": "ADQL", "QUERY": "SELECT 1"})
        assert jobs.get("anonymous@10.0.0.2", job.job_id).job_id == job.job_id
        assert [j.job_id for j in jobs.list("anonymous@10.0.0.2")] == [job.job_id]


def test_uploaded_table_is_stored_with_the_job_and_joined(tap_engine, tmp_path, store_url):
    import pyarrow as pa

    ids = tap_engine.query("SELECT TOP 2 id FROM sky.objects ORDER BY id").to_table()
    first, second = ids["id"].to_pylist()
    targets = pa.table({"tid": [1, 2], "oid": [first, second]})
    query = ("SELECT t.tid, o.id FROM TAP_UPLOAD.targets AS t "
             "JOIN sky.objects AS o ON o.id = t.oid ORDER BY t.tid")
    with job_service(tap_engine, tmp_path, store_url) as jobs:
        job = jobs.create("alice", {"LANG": "ADQL", "QUERY": query, "UPLOAD": "targets,param:t",
                                    "RESPONSEFORMAT": "csv"},
                          uploads={"TARGETS": targets}, run=True)
        stored = job.parameters["_UPLOAD_FILES"]["targets"]
        assert Path(stored).parent == jobs.runner.job_dir(job.job_id) / "uploads"
        done = finished(jobs, "alice", job.job_id)
        assert done.phase == Phase.COMPLETED, done.error_message
        rows = Path(done.result_path).read_text().replace('"', "").split()
        assert rows == ["tid,id", f"1,{first}", f"2,{second}"]
        jobs.delete("alice", job.job_id)
        assert not Path(stored).exists()
