from datetime import timedelta

import pytest

from tap_service.uws.store import Job, JobStore, Phase, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = JobStore(url)
    with s.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM uws_jobs")
    yield s
    s.close()


def _job(job_id, owner="me", phase=Phase.PENDING, age_s=0):
    now = utcnow() - timedelta(seconds=age_s)
    return Job(job_id, owner, phase, now, 60, now + timedelta(days=1),
               {"QUERY": "SELECT 1", "LANG": "ADQL"})


def test_job_round_trips_with_parameters_and_aware_times(store):
    store.add(_job("a"))
    job = store.get("a")
    assert job.parameters == {"QUERY": "SELECT 1", "LANG": "ADQL"}
    assert job.creation_time.tzinfo is not None
    assert store.get("missing") is None


def test_conditional_update_only_changes_matching_phase(store):
    store.add(_job("a"))
    assert store.update("a", only_if=[Phase.PENDING], phase=Phase.QUEUED)
    assert not store.update("a", only_if=[Phase.PENDING], phase=Phase.EXECUTING)
    assert store.get("a").phase == Phase.QUEUED


def test_list_filters_by_owner_phase_after_and_last(store):
    store.add(_job("old", age_s=30))
    store.add(_job("mid", phase=Phase.COMPLETED, age_s=20))
    store.add(_job("new", owner="you", age_s=10))
    assert [j.job_id for j in store.list_jobs()] == ["old", "mid", "new"]
    assert [j.job_id for j in store.list_jobs(owner="me")] == ["old", "mid"]
    assert [j.job_id for j in store.list_jobs(phases=[Phase.COMPLETED])] == ["mid"]
    recent = store.list_jobs(after=utcnow() - timedelta(seconds=25))
    assert [j.job_id for j in recent] == ["mid", "new"]
    assert [j.job_id for j in store.list_jobs(last=2)] == ["new", "mid"]


def test_expired_jobs_are_found_and_deleted(store):
    job = _job("gone")
    store.add(Job(job.job_id, job.owner, job.phase, job.creation_time, 60,
                  utcnow() - timedelta(seconds=1), {}))
    store.add(_job("kept"))
    assert [j.job_id for j in store.expired(utcnow())] == ["gone"]
    store.delete("gone")
    assert store.get("gone") is None


def test_jobs_survive_reopening_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    first = JobStore(url)
    first.add(_job("persisted"))
    first.close()
    again = JobStore(url)
    assert again.get("persisted").parameters["QUERY"] == "SELECT 1"
    again.close()


def test_active_jobs_and_result_bytes_are_counted_per_owner(store):
    store.add(_job("p"))
    store.add(_job("q", phase=Phase.QUEUED))
    store.add(_job("x", phase=Phase.EXECUTING))
    store.add(_job("c", phase=Phase.COMPLETED))
    store.add(_job("other", owner="you"))
    assert store.count_active("me") == 3
    assert store.count_active("you") == 1
    assert store.count_active("nobody") == 0
    store.update("c", result_path="/r/c", result_size=1000)
    store.update("x", result_path="/r/x", result_size=24)
    store.update("other", result_path="/r/o", result_size=7)
    assert store.result_bytes("me") == 1024
    assert store.result_bytes("me", excluding="c") == 24
    assert store.result_bytes("nobody") == 0
