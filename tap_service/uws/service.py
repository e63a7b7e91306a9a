"""The UWS 1.1 job logic without HTTP: what the /async handlers call, and tests drive directly.

Every method takes the *caller* (the owner id the request authenticated as, or the client's
address for anonymous use) and raises the typed errors of :mod:`tap_service.errors`; the
handlers only parse the request, call one method and render the job it returns.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from tap_service.config import TapSettings
from tap_service.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    TapError,
)
from tap_service.uws.runner import (
    DISK_FULL_ERRNOS,
    UPLOAD_FILES_KEY,
    JobRunner,
    store_full_error,
)
from tap_service.uws.store import ACTIVE_PHASES, Job, JobStore, Phase, new_job_id, utcnow

MAX_WAIT_S = 60.0
"""Longest a WAIT request blocks; clients such as pyvo simply ask again."""


class QuotaError(TapError):
    """The caller reached a per-owner limit (unfinished jobs or stored result bytes)."""

    status = 429


class JobService:
    """Create, list, run, abort, change and delete UWS jobs for their owners.

    Parameters
    ----------
    store
        Where jobs are kept (SQLite or PostgreSQL).
    runner
        Executes queued jobs and owns the job folders.
    settings
        Limits: durations, destruction, per-owner quotas.
    private
        When True (bearer tokens are on) a job is visible to its owner only.
    """

    def __init__(self, store: JobStore, runner: JobRunner, settings: TapSettings, *,
                 private: bool) -> None:
        self.store = store
        self.runner = runner
        self.settings = settings
        self.private = private

    # ------------------------------------------------------------ reading

    def get(self, caller: str, job_id: str) -> Job:
        """Return the caller's job.

        Raises
        ------
        NotFoundError
            No such job.
        ForbiddenError
            The job belongs to another owner (with tokens on).
        """
        job = self.store.get(job_id)
        if job is None:
            raise NotFoundError(f"No job '{job_id}' (it may have been destroyed).")
        if self.private and job.owner != caller:
            raise ForbiddenError(f"Job '{job_id}' belongs to another user.")
        return job

    def list(self, caller: str, *, phases: Sequence[Phase] = (), after: datetime | None = None,
             last: int | None = None) -> list[Job]:
        """Return the jobs the caller may see, filtered as UWS 1.1 PHASE, AFTER and LAST do."""
        return self.store.list_jobs(owner=caller if self.private else None, phases=phases,
                                    after=after, last=last)

    def result(self, caller: str, job_id: str) -> Job:
        """Return a COMPLETED job whose result file exists.

        Raises
        ------
        NotFoundError
            The job has no result; the message says why, with the job's error message
            when it failed (clients such as astroquery show only this text).
        """
        job = self.get(caller, job_id)
        if job.phase == Phase.COMPLETED and job.result_path:
            return job
        if job.phase == Phase.ERROR:
            raise NotFoundError(f"Job {job_id} failed and has no result: "
                                f"{job.error_message or 'no error message was recorded.'}")
        if job.phase == Phase.ABORTED:
            raise NotFoundError(f"Job {job_id} was aborted and has no result; "
                                "submit the query again to get one.")
        if job.phase == Phase.PENDING:
            raise NotFoundError(f"Job {job_id} is PENDING and has no result yet; start it "
                                "with PHASE=RUN and fetch the result once it is COMPLETED.")
        raise NotFoundError(f"Job {job_id} is {job.phase} and has no result yet; wait until "
                            "it is COMPLETED (e.g. GET the job with WAIT=30).")

    def error(self, caller: str, job_id: str) -> str:
        """Return the error message of a job in ERROR.

        Raises
        ------
        NotFoundError
            The job did not fail.
        """
        job = self.get(caller, job_id)
        if job.error_message is None:
            raise NotFoundError(f"Job {job_id} is {job.phase} and has no error.")
        return job.error_message

    async def wait(self, job: Job, wait_s: float, *, phase: Phase | None = None) -> Job:
        """Block up to ``wait_s`` (capped) while ``job`` stays in its active phase.

        With ``phase``, return at once unless the job is in that phase (UWS 1.1 WAIT).
        A negative ``wait_s`` waits as long as allowed.
        """
        wait_s = MAX_WAIT_S if wait_s < 0 else min(wait_s, MAX_WAIT_S)
        if job.phase not in ACTIVE_PHASES or (phase is not None and phase != job.phase):
            return job
        deadline = time.monotonic() + wait_s
        delay = 0.01
        while time.monotonic() < deadline:
            await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, 0.2)
            current = await asyncio.to_thread(self.store.get, job.job_id)
            if current is None or current.phase != job.phase:
                return current or job
        return job

    # ------------------------------------------------------------ changing

    def create(self, caller: str, parameters: Mapping[str, str], *,
               uploads: Mapping[str, pa.Table] | None = None, run_id: str | None = None,
               execution_duration_s: int | None = None, destruction: datetime | None = None,
               run: bool = False) -> Job:
        """Create a PENDING job (QUEUED with ``run``) and return it.

        Raises
        ------
        QuotaError
            The caller holds too many unfinished jobs, or its results fill its quota.
        ResultStoreFullError
            The uploads could not be stored: the disk is full.
        """
        settings = self.settings
        now = utcnow()
        job = Job(
            job_id=new_job_id(), owner=caller, phase=Phase.PENDING, creation_time=now,
            execution_duration_s=int(settings.default_execution_duration.total_seconds()),
            destruction=now + settings.default_destruction, parameters=dict(parameters),
            run_id=run_id,
        )
        if execution_duration_s is not None:
            job = replace(job, execution_duration_s=self.capped_duration(execution_duration_s))
        if destruction is not None:
            job = replace(job, destruction=self.capped_destruction(job, destruction))
        # Checked before the uploads are stored (no work for a refused request), and again
        # in the insert's transaction under the owner's lock, which holds across replicas.
        writing = self.runner.written_bytes(caller)
        self._check_quota(caller, self.store.count_active(caller),
                          self.store.result_bytes(caller) + writing)
        if uploads:
            stored = self._store_uploads(job.job_id, uploads)
            job = replace(job, parameters={**job.parameters, UPLOAD_FILES_KEY: stored})
        try:
            self.store.add_within(
                job, lambda active, stored: self._check_quota(caller, active, stored + writing))
        except BaseException:
            shutil.rmtree(self.runner.job_dir(job.job_id), ignore_errors=True)
            raise
        if run:
            self._queue(job.job_id)
        return self.store.get(job.job_id) or job

    def _check_quota(self, caller: str, active: int, used: int) -> None:
        """Raise QuotaError when ``caller`` holds ``active`` unfinished jobs or ``used``
        result bytes at or over its quotas (the counts come from the store: all replicas)."""
        settings = self.settings
        if active >= settings.max_active_jobs_per_owner:
            raise QuotaError(
                f"You have {active} unfinished async jobs (PENDING, QUEUED or EXECUTING); the "
                f"limit per owner is {settings.max_active_jobs_per_owner}. Wait for some to "
                "finish, or abort or delete them (DELETE /async/<job-id>), then submit again.")
        if used >= settings.max_result_bytes_per_owner:
            raise QuotaError(
                f"Your stored async results take {used} bytes; the limit per owner is "
                f"{settings.max_result_bytes_per_owner} bytes. Delete finished jobs "
                "(DELETE /async/<job-id>) to make room, then submit again.")

    def _store_uploads(self, job_id: str, uploads: Mapping[str, pa.Table]) -> dict[str, str]:
        # The parsed table is stored (Parquet keeps its types), not the uploaded bytes.
        folder = self.runner.job_dir(job_id) / "uploads"
        stored: dict[str, str] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, table in uploads.items():
                path = folder / f"{name.lower()}.parquet"
                pq.write_table(table, path)
                stored[name.lower()] = str(path)
        except OSError as exc:
            error = (store_full_error(self.runner.jobs_dir, exc)
                     if exc.errno in DISK_FULL_ERRNOS else None)
            shutil.rmtree(folder.parent, ignore_errors=True)
            if error is not None:
                raise error from exc
            raise
        return stored

    def update(self, caller: str, job_id: str, parameters: Mapping[str, str], *,
               uploads: Mapping[str, pa.Table] | None = None,
               execution_duration_s: int | None = None, destruction: datetime | None = None,
               phase: str | None = None) -> Job:
        """Change a job as a POST to the job or its /parameters does.

        New parameters and uploads need a PENDING job; ``phase`` RUN queues, ABORT aborts.

        Raises
        ------
        ConflictError
            Parameters were given for a job that is no longer PENDING.
        """
        job = self.get(caller, job_id)
        if parameters or uploads:
            if job.phase != Phase.PENDING:
                raise ConflictError(f"Job {job_id} is {job.phase}; parameters are fixed.")
            merged = {**job.parameters, **parameters}
            if uploads:
                merged[UPLOAD_FILES_KEY] = {**job.parameters.get(UPLOAD_FILES_KEY, {}),
                                            **self._store_uploads(job_id, uploads)}
            self.store.update(job_id, parameters=merged)
        if execution_duration_s is not None and job.phase == Phase.PENDING:
            self.store.update(job_id,
                              execution_duration_s=self.capped_duration(execution_duration_s))
        if destruction is not None:
            self.store.update(job_id, destruction=self.capped_destruction(job, destruction))
        if phase is not None:
            self.set_phase(caller, job_id, phase)
        return self.get(caller, job_id)

    def set_phase(self, caller: str, job_id: str, phase: str) -> Job:
        """PHASE=RUN queues a PENDING job, PHASE=ABORT aborts an active one.

        Raises
        ------
        InvalidRequestError
            Another phase was asked for.
        ConflictError
            RUN for a job that is no longer PENDING.
        """
        self.get(caller, job_id)
        wanted = phase.strip().upper()
        if wanted == "RUN":
            self._queue(job_id)
        elif wanted == "ABORT":
            self.runner.abort(job_id)
        else:
            raise InvalidRequestError(f"Invalid PHASE '{phase}'; use RUN or ABORT.")
        return self.get(caller, job_id)

    def _queue(self, job_id: str) -> None:
        if not self.store.update(job_id, only_if=[Phase.PENDING], phase=Phase.QUEUED):
            job = self.store.get(job_id)
            phase = job.phase if job else "deleted"
            if phase in (Phase.QUEUED, Phase.EXECUTING):
                return
            raise ConflictError(f"Job {job_id} is {phase}; only a PENDING job can be run.")
        self.runner.schedule()

    def set_execution_duration(self, caller: str, job_id: str, seconds: int) -> Job:
        """Change the execution duration of a PENDING job (capped by the service's maximum).

        Raises
        ------
        ConflictError
            The job is no longer PENDING.
        """
        job = self.get(caller, job_id)
        if job.phase != Phase.PENDING:
            raise ConflictError(f"Job {job_id} is {job.phase}; its duration is fixed.")
        self.store.update(job_id, execution_duration_s=self.capped_duration(seconds))
        return self.get(caller, job_id)

    def set_destruction(self, caller: str, job_id: str, when: datetime) -> Job:
        """Change the destruction time (no later than the service allows)."""
        job = self.get(caller, job_id)
        self.store.update(job_id, destruction=self.capped_destruction(job, when))
        return self.get(caller, job_id)

    def delete(self, caller: str, job_id: str) -> None:
        """Abort the job if active and destroy it with its files."""
        self.runner.destroy(self.get(caller, job_id))

    # ------------------------------------------------------------ limits

    def capped_duration(self, seconds: int) -> int:
        """An execution duration within the service's maximum (0 or less: the maximum)."""
        hard = int(self.settings.max_execution_duration.total_seconds())
        return hard if seconds <= 0 else min(seconds, hard)

    def capped_destruction(self, job: Job, when: datetime) -> datetime:
        """A destruction time no later than the job's creation plus the service's maximum."""
        return min(when, job.creation_time + self.settings.max_destruction)


__all__ = ["MAX_WAIT_S", "JobService", "QuotaError"]
