"""``qserv-access serve --workers 2``: two service processes on one port share the default
SQLite job store, and the per-owner limits hold across them."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tap_service.uws.store import JobStore
from tests.e2e.test_killed_server import server_pid
from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server
from tests.tap_service.test_replicas import SMALL, Replica, job_id_of, wait_final

MAX_ACTIVE = 4


def worker_pids(parent: int) -> set[int]:
    """The processes uvicorn spawned to serve requests."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"multiprocessing.spawn" in cmdline:
            found.add(int(stat.parent.name))
    return found


def test_workers_share_the_job_store_and_the_owner_quota(tap_data_dir, tmp_path):
    port = free_port()
    env = {"QSA_TAP_MAX_ACTIVE_JOBS_PER_OWNER": str(MAX_ACTIVE)}
    with running_tap_server(tap_data_dir, tmp_path, port, env=env,
                            args=["--workers", "2"]) as url:
        workers = worker_pids(server_pid(port))
        assert len(workers) == 2

        def create(_):
            return httpx.post(url + "/async", data={"LANG": "ADQL", "QUERY": SMALL})

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(create, range(3 * MAX_ACTIVE)))
        created = [job_id_of(r) for r in answers if r.status_code == 303]
        assert len(created) == MAX_ACTIVE
        assert sorted(r.status_code for r in answers).count(429) == 2 * MAX_ACTIVE
        listed = httpx.get(url + "/async").text
        assert all(job_id in listed for job_id in created)
        for job_id in created:
            assert httpx.post(f"{url}/async/{job_id}/phase", data={"PHASE": "RUN"}).is_redirect
        for job_id in created:
            assert wait_final(Replica(url, port), job_id) == "COMPLETED"
            assert httpx.get(f"{url}/async/{job_id}/results/result").status_code == 200
    store = JobStore(f"sqlite:///{tmp_path / 'work' / 'jobs.sqlite'}")
    try:
        ran_in = {int(store.get(job_id).runner.split("/")[2]) for job_id in created}
    finally:
        store.close()
    assert ran_in <= workers

