"""Leases on executing jobs, so that several service replicas share one job store.

Each replica (a service process) has an id. It starts a QUEUED job by claiming it in the
store (:meth:`JobStore.claim`: one conditional UPDATE, so exactly one replica wins) under a
:class:`~tap_service.uws.store.Lease` of its id and the job's attempt number, and then:

- renews the leases of the jobs it runs every third of ``job_lease`` (the ``heartbeat``
  column);
- every ``job_poll_interval`` reads the jobs it runs back from the store and cancels those
  no longer held under its lease: aborted or deleted through any replica, or taken over;
- takes back jobs whose lease lapsed (their replica was killed or lost): QUEUED again, to
  run on whichever replica has room, or ERROR after :data:`MAX_ATTEMPTS` starts;
- starts QUEUED jobs, whichever replica queued them.

Result files are named by attempt (:func:`partial_name`), and every write about a job is
conditional on its lease, so a replica that lost a job can neither overwrite nor publish
the result of the one that took it over.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tap_service.uws.store import Job, JobStore, Phase, utcnow

if TYPE_CHECKING:
    from tap_service.uws.runner import JobRunner

log = logging.getLogger("tap_service.uws")

MAX_ATTEMPTS = 3
"""Starts of one job before a lapsed lease ends it in ERROR instead of queueing it again
(a query that kills the replica running it must not go on to kill every replica)."""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:")
    except OSError:
        return "-"


def new_replica_id() -> str:
    """An id for this process: host, pid namespace and pid (to recognise its own dead
    predecessors at start) and a random part (a pid can be reused)."""
    return f"{socket.gethostname()}/{_pid_namespace()}/{os.getpid()}/{secrets.token_hex(4)}"


def holder_is_gone(runner: str) -> bool:
    """True when ``runner`` was a process of this machine (same host and pid namespace)
    that no longer exists, so its jobs need not wait for their lease to lapse."""
    parts = runner.split("/")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[1] != _pid_namespace():
        return False
    try:
        pid = int(parts[2])
        if pid == os.getpid():
            return False
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (ValueError, OSError):
        return False
    return False


def result_name(attempt: int, extension: str) -> str:
    """File name of the result of a job's ``attempt``-th start."""
    return f"result.{extension}" if attempt <= 1 else f"result.a{attempt}.{extension}"


def partial_name(attempt: int) -> str:
    """File name of the result of a job's ``attempt``-th start while it is written."""
    return Path(result_name(attempt, "x")).with_suffix(".partial").name


def take_back(store: JobStore, job: Job, jobs_dir: Path, *,
              lapsed_before: datetime | None = None) -> bool:
    """Queue a job whose replica stopped holding it again (ERROR after too many starts);
    remove the partial file of that attempt. Return whether the job was taken."""
    attempts = job.attempts or 0
    if attempts >= MAX_ATTEMPTS:
        taken = store.take_back(
            job, lapsed_before=lapsed_before, phase=Phase.ERROR, end_time=utcnow(),
            error_transient=False,
            error_message=f"The service replica running this job stopped (killed or cut off) "
            f"{attempts} times while it ran; it was not started again. Narrow the query "
            "(fewer rows or columns, a smaller region) and submit it again.")
    else:
        taken = store.take_back(job, lapsed_before=lapsed_before,
                                phase=Phase.QUEUED, start_time=None)
    if taken:
        (jobs_dir / job.job_id / partial_name(attempts)).unlink(missing_ok=True)
        log.warning("job %s: replica %s stopped holding it; %s", job.job_id, job.runner,
                    "ended in ERROR" if attempts >= MAX_ATTEMPTS else "queued again")
    return taken


class LeaseKeeper:
    """The thread of one replica that renews, watches and takes over leases, and starts
    queued jobs (see the module's description)."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        settings = runner.settings
        self.lease = settings.job_lease
        self.renew_every = settings.job_lease.total_seconds() / 3
        self.tick = min(settings.job_poll_interval.total_seconds(), self.renew_every)
        self._renewed = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="uws-leases", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (the leases of jobs still running then lapse unless renewed)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.step()
            except Exception:
                log.exception("keeping the job leases failed")

    def step(self) -> None:
        """One round: cancel lost jobs, renew when due, take over lapsed leases, schedule."""
        runner = self.runner
        store = runner.store
        held = runner.held()
        if held:
            now_held = store.holders(list(held))
            runner.cancel([job_id for job_id, lease in held.items()
                           if now_held.get(job_id) != lease])
        if time.monotonic() - self._renewed >= self.renew_every:
            store.renew(runner.replica_id, utcnow())
            self._renewed = time.monotonic()
        self.take_over_lapsed()
        runner.schedule()

    def take_over_lapsed(self) -> int:
        """Take back the jobs whose lease lapsed; return how many."""
        runner = self.runner
        cutoff = utcnow() - self.lease
        mine = runner.held()
        taken = 0
        for job in runner.store.executing(lapsed_before=cutoff):
            if job.runner == runner.replica_id and job.job_id in mine:
                continue  # ours and running: renewed at the next round
            taken += take_back(runner.store, job, runner.jobs_dir, lapsed_before=cutoff)
        return taken


__all__ = ["MAX_ATTEMPTS", "LeaseKeeper", "holder_is_gone", "new_replica_id", "partial_name",
           "result_name", "take_back"]
