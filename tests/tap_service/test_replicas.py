"""Two real service processes (``qserv-access serve``) on one PostgreSQL job store and one
result folder behave as one service: create through one, read, wait, abort and fetch
through the other; a replica SIGKILLed mid-job leaves the job to the survivor."""

import io
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import pyvo
from astropy.io.votable import parse_single_table

from tap_service.uws.store import JobStore, Phase
from tests.e2e.test_killed_server import BIG, server_pid
from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server
from tests.support.waiting import wait_until

LEASE_S = 3.0
"""Short for a quick takeover, yet three missed renewals (one a second) on a busy machine."""
MAX_ACTIVE = 8
SMALL = "SELECT TOP 300 id, ra, dec FROM sky.objects ORDER BY id"
SLOW_LIMIT_ID = 1500
SLOW = ("SELECT a.id, COUNT(*) AS n FROM sky.objects AS a, sky.objects AS b, sky.objects AS c "
        f"WHERE a.id < {SLOW_LIMIT_ID} AND a.ra + b.ra + c.ra > 540 GROUP BY a.id")
"""A few seconds of arithmetic over ~280 million triples for a result of ~70 rows."""
FINAL = ("COMPLETED", "ERROR", "ABORTED")


@dataclass
class Replica:
    url: str
    port: int

    def job(self, job_id: str) -> str:
        return f"{self.url}/async/{job_id}"


@pytest.fixture(scope="module")
def store(postgres_url):
    jobs = JobStore(postgres_url)
    with jobs.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM uws_jobs")
    yield jobs
    jobs.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return tmp_path_factory.mktemp("replicas")


@pytest.fixture(scope="module")
def replicas(store, postgres_url, tap_data_dir, shared):
    env = {"QSA_TAP_JOBS_DB": postgres_url, "QSA_TAP_WORK_DIR": str(shared / "work"),
           "QSA_TAP_JOB_LEASE": str(LEASE_S), "QSA_TAP_JOB_POLL_INTERVAL": "0.2",
           "QSA_TAP_MAX_ACTIVE_JOBS_PER_OWNER": str(MAX_ACTIVE)}
    ports = [free_port()]
    while len(ports) < 2:
        ports += [port for port in [free_port()] if port not in ports]
    servers = [running_tap_server(tap_data_dir, shared / name, port, env=env)
               for name, port in zip("ab", ports, strict=True)]
    with ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        # Started together: each waits for its engine and its first answer.
        starting = [pool.submit(server.__enter__) for server in servers]
        for server, future in zip(servers, starting, strict=True):
            if future.exception() is None:
                stack.push(server)
        urls = [future.result() for future in starting]
        yield [Replica(url, port) for url, port in zip(urls, ports, strict=True)]


def job_id_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def runner_of(store, replicas, job_id):
    """The replica executing ``job_id`` (as the store says), and the other one."""
    job = wait_until(lambda: (j := store.get(job_id)) and j.phase == Phase.EXECUTING
                     and j.runner and j, 60, f"job {job_id} to execute")
    pid = int(job.runner.split("/")[2])
    running = next(r for r in replicas if server_pid(r.port) == pid)
    return running, next(r for r in replicas if r is not running), pid


def wait_final(replica: Replica, job_id: str, timeout_s: float = 60) -> str:
    """Block on the job through ``replica`` with UWS WAIT until it ends; return the phase."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(replica.job(job_id), params={"WAIT": "10"}, timeout=30)
        phase = httpx.get(replica.job(job_id) + "/phase").text
        if phase in FINAL:
            return phase
        assert r.status_code == 200
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s")


def votable_rows(content: bytes) -> list[tuple]:
    table = parse_single_table(io.BytesIO(content)).to_table()
    return [tuple(row) for row in table]


def files_of(shared: Path, job_id: str) -> list[str]:
    folder = shared / "work" / "jobs" / job_id
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_job_created_through_one_replica_is_run_read_and_fetched_through_the_other(replicas):
    a, b = replicas
    job_id = job_id_of(httpx.post(a.url + "/async", data={"LANG": "ADQL", "QUERY": SMALL}))
    listed = httpx.get(b.url + "/async").text
    assert job_id in listed
    assert httpx.get(b.job(job_id) + "/phase").text == "PENDING"
    r = httpx.post(b.job(job_id) + "/phase", data={"PHASE": "RUN"})
    assert r.status_code == 303
    assert wait_final(b, job_id) == "COMPLETED"
    assert httpx.get(a.job(job_id) + "/phase").text == "COMPLETED"
    fetched = httpx.get(b.job(job_id) + "/results/result")
    assert fetched.status_code == 200
    expected = httpx.post(a.url + "/sync", data={"LANG": "ADQL", "QUERY": SMALL})
    rows = votable_rows(fetched.content)
    assert len(rows) == 300 and rows == votable_rows(expected.content)


def test_abort_through_one_replica_stops_the_query_running_on_the_other(replicas, store,
                                                                        shared, record_property):
    job_id = job_id_of(httpx.post(replicas[0].url + "/async", data={
        "LANG": "ADQL", "QUERY": BIG, "MAXREC": "10000000", "PHASE": "RUN"}))
    running, other, _ = runner_of(store, replicas, job_id)
    partial = shared / "work" / "jobs" / job_id / "result.partial"
    wait_until(lambda: partial.exists() and partial.stat().st_size > 100_000, 60,
         "the result to be written")
    # WAIT through the other replica blocks while the job executes there.
    started = time.monotonic()
    r = httpx.get(other.job(job_id), params={"WAIT": "1", "PHASE": "EXECUTING"}, timeout=30)
    assert r.status_code == 200 and time.monotonic() - started >= 0.9
    aborted_at = time.monotonic()
    r = httpx.post(other.job(job_id) + "/phase", data={"PHASE": "ABORT"})
    assert r.status_code == 303
    assert httpx.get(running.job(job_id) + "/phase").text == "ABORTED"
    # The replica running the query notices, stops writing and removes its partial file.
    wait_until(lambda: files_of(shared, job_id) == [], 5, "the running replica to stop the job")
    stopped_s = time.monotonic() - aborted_at
    record_property("abort_to_stopped_s", round(stopped_s, 2))
    assert stopped_s < 2.5, f"the query ran on for {stopped_s:.1f} s after ABORT"
    time.sleep(0.5)
    assert files_of(shared, job_id) == []
    assert store.get(job_id).phase == Phase.ABORTED


def test_owner_quota_counts_jobs_created_through_every_replica(replicas):
    def create(i):
        return httpx.post(replicas[i % 2].url + "/async", data={"LANG": "ADQL",
                                                               "QUERY": SMALL})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(2 * MAX_ACTIVE)))
    created = [job_id_of(r) for r in answers if r.status_code == 303]
    refused = [r for r in answers if r.status_code == 429]
    try:
        assert len(created) == MAX_ACTIVE and len(refused) == MAX_ACTIVE
        assert f"the limit per owner is {MAX_ACTIVE}" in refused[0].text
    finally:
        for job_id in created:
            httpx.delete(replicas[0].job(job_id))


def test_pyvo_job_submitted_through_one_replica_runs_and_fetches_through_the_other(replicas):
    a, b = replicas
    job = pyvo.dal.TAPService(a.url).submit_job(SMALL)
    assert job.url.startswith(a.url)
    there = pyvo.dal.AsyncTAPJob(job.url.replace(a.url, b.url))
    there.run()
    there.wait(phases=list(FINAL), timeout=60)
    assert there.phase == "COMPLETED"
    fetched = there.fetch_result().to_table()
    expected = pyvo.dal.TAPService(a.url).run_sync(SMALL).to_table()
    assert list(fetched["id"]) == list(expected["id"]) and len(fetched) == 300
    there.delete()
    assert job.job_id not in [j.jobid for j in pyvo.dal.TAPService(a.url).get_job_list()]


def expected_slow_counts(tap_data_dir: Path) -> dict[int, int]:
    """SLOW's answer computed with numpy from the ingested input file."""
    objects = pq.read_table(tap_data_dir.parent / "objects.parquet", columns=["id", "ra"])
    ids = objects["id"].to_numpy()
    ra = objects["ra"].to_numpy().astype(np.float64)
    counts = {}
    for i in np.flatnonzero(ids < SLOW_LIMIT_ID):
        n = int(np.count_nonzero((ra[i] + ra)[:, None] + ra[None, :] > 540))
        if n:
            counts[int(ids[i])] = n
    return counts


def test_replica_killed_mid_job_leaves_the_job_to_the_survivor(replicas, store, shared,
                                                               tap_data_dir, record_property):
    # Last in this module: it kills one of the replicas.
    job_id = job_id_of(httpx.post(replicas[0].url + "/async", data={
        "LANG": "ADQL", "QUERY": SLOW, "PHASE": "RUN"}))
    running, survivor, pid = runner_of(store, replicas, job_id)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    assert httpx.get(survivor.job(job_id) + "/phase").text == "EXECUTING"
    assert wait_final(survivor, job_id) == "COMPLETED"
    recovered_s = time.monotonic() - killed_at
    record_property("kill_to_completed_s", round(recovered_s, 2))
    job = store.get(job_id)
    assert job.attempts == 2 and job.runner != running and job.runner.split("/")[2] != str(pid)
    assert recovered_s >= LEASE_S  # the survivor waited for the lease to lapse
    assert files_of(shared, job_id) == ["result.a2.xml"]
    fetched = httpx.get(survivor.job(job_id) + "/results/result")
    got = {int(i): int(n) for i, n in votable_rows(fetched.content)}
    assert got == expected_slow_counts(tap_data_dir)
