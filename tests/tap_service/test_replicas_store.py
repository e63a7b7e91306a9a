"""What lets replicas share the job store: atomic claims, leases, takeover, owner locks, and
job databases made before the lease columns (SQLite and a real PostgreSQL)."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tap_service.uws.lease import (
    MAX_ATTEMPTS,
    holder_is_gone,
    new_replica_id,
    partial_name,
    take_back,
)
from tap_service.uws.store import JobStore, Lease, Phase, utcnow
from tests.tap_service.test_job_store import _job, store  # noqa: F401 - the fixture


def test_exactly_one_of_many_concurrent_claims_wins(store):  # noqa: F811
    store.add(_job("q", phase=Phase.QUEUED))
    stores = [JobStore(str(store.engine.url)) for _ in range(4)]
    won: list[Lease] = []
    barrier = threading.Barrier(8)

    def claim(i):
        barrier.wait()
        lease = stores[i % 4].claim("q", "me", f"replica-{i}", max_per_owner=10)
        if lease is not None:
            won.append(lease)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert len(won) == 1
    job = store.get("q")
    assert (job.phase, job.runner, job.attempts) == (Phase.EXECUTING, won[0].runner, 1)
    assert won[0].attempt == 1 and job.heartbeat is not None


def test_claims_count_the_owners_jobs_executing_anywhere(store):  # noqa: F811
    for name in ("a", "b", "c"):
        store.add(_job(name, phase=Phase.QUEUED))
    assert store.claim("a", "me", "r1", max_per_owner=2) is not None
    assert store.claim("b", "me", "r2", max_per_owner=2) is not None
    assert store.claim("c", "me", "r1", max_per_owner=2) is None
    assert store.get("c").phase == Phase.QUEUED


def test_writes_under_a_lost_lease_change_nothing(store):  # noqa: F811
    store.add(_job("j", phase=Phase.QUEUED))
    first = store.claim("j", "me", "r1", max_per_owner=5)
    assert store.take_back(store.get("j"), phase=Phase.QUEUED, start_time=None)
    second = store.claim("j", "me", "r2", max_per_owner=5)
    assert second == Lease("r2", 2)
    assert not store.update("j", held_by=first, phase=Phase.COMPLETED, result_path="/x")
    assert store.update("j", held_by=second, rows_done=5)
    assert store.holders(["j", "gone"]) == {"j": second}


def test_only_a_lapsed_lease_is_taken_back(store):  # noqa: F811
    store.add(_job("j", phase=Phase.QUEUED))
    store.claim("j", "me", "r1", max_per_owner=5)
    held = store.get("j")
    cutoff = utcnow() - timedelta(seconds=30)
    assert store.executing(lapsed_before=cutoff) == []
    assert not store.take_back(held, lapsed_before=cutoff, phase=Phase.QUEUED)
    # Seen lapsed, then renewed before the takeover: the renewal wins.
    store.update("j", heartbeat=utcnow() - timedelta(seconds=60))
    lapsed = store.executing(lapsed_before=cutoff)
    assert [j.job_id for j in lapsed] == ["j"]
    assert store.renew("r1", utcnow()) == 1
    assert not store.take_back(lapsed[0], lapsed_before=cutoff, phase=Phase.QUEUED)
    store.update("j", heartbeat=utcnow() - timedelta(seconds=60))
    assert store.take_back(store.get("j"), lapsed_before=cutoff, phase=Phase.QUEUED)
    job = store.get("j")
    assert (job.phase, job.runner, job.heartbeat, job.attempts) == (Phase.QUEUED, None, None, 1)


def test_owner_lock_serializes_check_and_insert_across_connections(store):  # noqa: F811
    other = JobStore(str(store.engine.url))
    inside = threading.Event()
    release = threading.Event()
    order = []

    def slow_check(active, used):
        order.append(("first", active))
        inside.set()
        release.wait(5)

    def add_second():
        inside.wait(5)
        other.add_within(_job("second"), lambda active, used: order.append(("second", active)))

    t = threading.Thread(target=add_second)
    t.start()
    timer = threading.Timer(0.5, release.set)
    timer.start()
    store.add_within(_job("first"), slow_check)
    t.join()
    other.close()
    # The second request counted after the first's insert was committed.
    assert order == [("first", 0), ("second", 1)]


def test_replica_ids_and_result_names():
    mine = new_replica_id()
    assert not holder_is_gone(mine)
    host, ns, _, _ = mine.split("/")
    assert holder_is_gone(f"{host}/{ns}/{2**22 + 12345}/ab")
    assert not holder_is_gone(f"elsewhere/{ns}/{2**22 + 12345}/ab")
    assert [partial_name(n) for n in (1, 2)] == ["result.partial", "result.a2.partial"]
    assert MAX_ATTEMPTS >= 2


TIME = "TIMESTAMP WITH TIME ZONE"
OLD_TABLE = (
    "CREATE TABLE uws_jobs (job_id VARCHAR(64) PRIMARY KEY, owner VARCHAR(200) NOT NULL,"
    f" run_id VARCHAR(200), phase VARCHAR(16) NOT NULL, creation_time {TIME} NOT NULL,"
    f" start_time {TIME}, end_time {TIME}, execution_duration_s INTEGER NOT NULL,"
    f" destruction {TIME} NOT NULL, parameters TEXT NOT NULL, error_message TEXT,"
    " error_transient BOOLEAN, result_path TEXT, result_mime VARCHAR(200),"
    " result_size BIGINT, overflow BOOLEAN, chunks_done INTEGER, chunks_total INTEGER,"
    " rows_done BIGINT)")
"""The job table as the version before leases made it (with the progress columns)."""


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    else:
        server = sa.create_engine(request.getfixturevalue("postgres_url"),
                                  isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS before_leases")
            conn.exec_driver_sql("CREATE DATABASE before_leases")
        server.dispose()
        url = request.getfixturevalue("postgres_url").rsplit("/", 1)[0] + "/before_leases"
    old = sa.create_engine(url)
    with old.begin() as conn:
        conn.exec_driver_sql(OLD_TABLE)
        conn.exec_driver_sql(
            "INSERT INTO uws_jobs (job_id, owner, phase, creation_time, execution_duration_s,"
            " destruction, parameters) VALUES ('old1', 'me', 'EXECUTING',"
            " '2026-01-01 00:00:00', 60, '2099-01-01 00:00:00', '{}')")
    old.dispose()
    return url


def test_job_database_from_before_leases_gets_the_columns(old_database):
    jobs = JobStore(old_database)
    try:
        job = jobs.get("old1")
        assert (job.phase, job.runner, job.heartbeat, job.attempts) == (
            Phase.EXECUTING, None, None, None)
        # An executing job of a version without leases is seen lapsed and taken back.
        lapsed = jobs.executing(lapsed_before=utcnow())
        assert [j.job_id for j in lapsed] == ["old1"]
        assert jobs.take_back(lapsed[0], phase=Phase.QUEUED)
        assert jobs.claim("old1", "me", "r1", max_per_owner=1) == Lease("r1", 1)
    finally:
        jobs.close()
    # A second opening finds nothing left to add.
    JobStore(old_database).close()


def test_lapsed_job_is_queued_again_without_its_partial_then_fails_after_max_attempts(
        store, tmp_path):  # noqa: F811
    store.add(_job("j", phase=Phase.QUEUED))
    folder = tmp_path / "jobs" / "j"
    folder.mkdir(parents=True)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        lease = store.claim("j", "me", f"r{attempt}", max_per_owner=5)
        assert lease == Lease(f"r{attempt}", attempt)
        (folder / partial_name(attempt)).write_bytes(b"half a result")
        store.update("j", heartbeat=utcnow() - timedelta(seconds=60))
        assert take_back(store, store.get("j"), tmp_path / "jobs",
                         lapsed_before=utcnow() - timedelta(seconds=30))
        assert not (folder / partial_name(attempt)).exists()
        if attempt < MAX_ATTEMPTS:
            assert store.get("j").phase == Phase.QUEUED
    job = store.get("j")
    assert job.phase == Phase.ERROR and job.error_transient is False
    assert f"stopped (killed or cut off) {MAX_ATTEMPTS} times" in job.error_message
