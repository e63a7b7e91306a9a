"""A server killed while an async job writes its result leaves no partial file after restart."""

import os
import signal
from pathlib import Path

import httpx

from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server, server_pid
from tests.support.waiting import wait_until

BIG = "SELECT a.id, a.ra, a.dec, b.source_id, b.mjd FROM sky.objects AS a, sky.sources AS b"


def test_partial_result_of_a_killed_server_is_removed_at_restart(tmp_path, tap_data_template):
    from tests.support.tap_data import copy_tap_data_dir

    data_dir = copy_tap_data_dir(tap_data_template, tmp_path / "catalogs")
    port = free_port()
    with running_tap_server(data_dir, tmp_path, port) as url:
        r = httpx.post(url + "/async", data={"LANG": "ADQL", "QUERY": BIG, "PHASE": "RUN",
                                             "MAXREC": "10000000"})
        assert r.status_code == 303
        job_url = r.headers["location"]
        folder = tmp_path / "work" / "jobs" / job_url.rsplit("/", 1)[1]
        partial = folder / "result.partial"
        wait_until(lambda: partial.exists() and partial.stat().st_size > 100_000, 90,
             "the job to write part of its result")
        pid = server_pid(port)
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{pid}/cmdline").exists()
             or not Path(f"/proc/{pid}/cmdline").read_bytes(), 30, "the server to die")
    assert partial.exists()  # what the killed process left behind

    # Restarted over a data directory without the table, the job cannot run again (so it
    # cannot overwrite its old partial file): only the start-up sweep can remove it.
    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    # The killed replica's lease lapses after QSA_TAP_JOB_LEASE as the new one counts it:
    # a short one here, so the job is taken back in seconds rather than the default 30.
    with running_tap_server(empty, tmp_path, port, env={"QSA_TAP_JOB_LEASE": "2"}) as url:
        job_path = job_url.split("/tap", 1)[1]

        def phase():
            return httpx.get(url + job_path + "/phase").text

        wait_until(lambda: phase() in ("ERROR", "COMPLETED", "ABORTED"), 60, "the re-queued job")
        assert phase() == "ERROR"
        assert [p for p in folder.rglob("*") if p.is_file()] == []
        r = httpx.post(url + "/async", data={
            "LANG": "ADQL", "QUERY": "SELECT TOP 1 table_name FROM TAP_SCHEMA.tables",
            "PHASE": "RUN"})
        later = r.headers["location"]
        wait_until(lambda: httpx.get(later + "/phase").text in ("COMPLETED", "ERROR"), 60,
             "a later job to finish")
        assert httpx.get(later + "/phase").text == "COMPLETED", httpx.get(later).text
