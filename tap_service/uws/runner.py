"""Executes queued UWS jobs in a thread pool, with caps overall and per owner."""

from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from tap_service.config import TapSettings
from tap_service.errors import TapError, error_report
from tap_service.params import RequestParams, parse_query_request
from tap_service.query import StartedQuery, start_query
from tap_service.uws.lease import (
    LeaseKeeper,
    holder_is_gone,
    new_replica_id,
    partial_name,
    result_name,
    take_back,
)
from tap_service.uws.store import ACTIVE_PHASES, Job, JobStore, Lease, Phase, utcnow

if TYPE_CHECKING:
    from engine.api import Engine, QueryProgress, QueryResult

log = logging.getLogger("tap_service.uws")

UPLOAD_FILES_KEY = "_UPLOAD_FILES"
"""Internal job parameter: uploaded table name -> stored file (not shown to clients)."""

PARTIAL_SUFFIX = ".partial"
"""A result being written; renamed to its final name only once complete."""

REMOTE_BYTES_TTL_S = 0.5
"""How long the bytes an owner's jobs write on other replicas are reused while a result
is written (they are read from the store, where those replicas report them as often)."""

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

PROGRESS_INTERVAL_S = 0.5
"""How often the chunks done and rows of executing jobs are written to the job store,
where every replica's GET of the job reads them (UWS ``jobInfo``): often enough for a
progress bar, rare enough to cost the database nothing."""


class ResultLimitError(TapError):
    """A job's result outgrew its byte limit (its own, or what its owner has left)."""

    status = 413


class ResultStoreFullError(TapError):
    """The disk holding the result store is full; a retry may pass once space is back."""

    status = 507


def store_full_error(folder: Path, exc: OSError) -> ResultStoreFullError:
    """Return the error that tells a client the result store on ``folder`` is full."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    return ResultStoreFullError(
        f"The result store on {folder} is full: {free} bytes free ({exc.strerror}); the "
        "partial result was removed. Retry once the operator has freed space, or ask for "
        "less (MAXREC, a smaller region, fewer columns).")




class _JobSignal:
    """Abort flag of one job, and the event handed to the engine (which may set it itself
    when a query ends, so it cannot tell us whether the job was aborted)."""

    def __init__(self) -> None:
        self.job = threading.Event()
        self.engine = threading.Event()

    def set(self) -> None:
        self.job.set()
        self.engine.set()

    def is_set(self) -> bool:
        return self.job.is_set()


class JobRunner:
    """Starts QUEUED jobs when there is room, cancels them on ABORT or time-out, cleans up.

    Several runners (one per service replica) may share one store: each claims the jobs
    it starts under a lease that its :class:`~tap_service.uws.lease.LeaseKeeper` renews.
    """

    def __init__(self, store: JobStore, engine: Engine, settings: TapSettings) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.jobs_dir = settings.resolved_work_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(settings.max_running_jobs, thread_name_prefix="uws")
        self._lock = threading.Lock()
        self.replica_id = new_replica_id()
        """This runner's id in the store's ``runner`` column of the jobs it executes."""
        self._running: dict[str, tuple[str, _JobSignal, Lease]] = {}
        self._remote: dict[str, tuple[float, int]] = {}
        self._written: dict[str, int] = {}
        self._progress: dict[str, QueryProgress] = {}
        self._published: dict[str, tuple[int, int, int, int]] = {}
        self._stop = threading.Event()
        self._cleaner: threading.Thread | None = None
        self._reporter: threading.Thread | None = None
        self._leases = LeaseKeeper(self)

    def job_dir(self, job_id: str) -> Path:
        """Folder holding a job's uploads and result."""
        return self.jobs_dir / job_id

    def start(self) -> None:
        """Re-queue jobs a previous process left EXECUTING, start them and the cleaner.

        Those are the jobs of a process of this machine that no longer exists, and jobs
        held by no replica (a version without leases); jobs of other replicas are taken
        back only when their lease lapses. The partial result files of jobs no longer
        running are removed: a process that was killed while writing leaves them behind.
        """
        for job in self.store.executing():
            if job.runner is None or holder_is_gone(job.runner):
                take_back(self.store, job, self.jobs_dir)
        self.remove_stale_partials()
        self._cleaner = threading.Thread(target=self._clean_loop, name="uws-cleaner", daemon=True)
        self._cleaner.start()
        self._reporter = threading.Thread(target=self._report_loop, name="uws-progress",
                                          daemon=True)
        self._reporter.start()
        self._leases.start()
        self.schedule()

    def stop(self) -> None:
        """Cancel running jobs (they are re-queued at the next start) and stop the threads."""
        self._stop.set()
        self._leases.stop()
        with self._lock:
            for _, signal, _ in self._running.values():
                signal.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._cleaner is not None:
            self._cleaner.join(timeout=5)
        if self._reporter is not None:
            self._reporter.join(timeout=5)

    # ------------------------------------------------------------ scheduling

    def schedule(self) -> None:
        """Start as many QUEUED jobs as this replica's room allows, oldest first.

        The jobs may have been queued through any replica; ``max_running_jobs_per_owner``
        counts the owner's jobs executing on all of them (in the claim's transaction).
        """
        if self._stop.is_set():
            return
        with self._lock:
            if len(self._running) >= self.settings.max_running_jobs:
                return
            queued = self.store.with_phase(Phase.QUEUED)
            # An owner whose claim failed (at its cap, or another replica was quicker) is
            # tried again at the next round, not once per queued job of it.
            passed: set[str] = set()
            for job in queued:
                if len(self._running) >= self.settings.max_running_jobs:
                    break
                if job.owner in passed:
                    continue
                lease = self.store.claim(
                    job.job_id, job.owner, self.replica_id,
                    max_per_owner=self.settings.max_running_jobs_per_owner)
                if lease is None:
                    passed.add(job.owner)
                    continue
                signal = _JobSignal()
                self._running[job.job_id] = (job.owner, signal, lease)
                self._pool.submit(self._run, job, signal, lease)

    def held(self) -> dict[str, Lease]:
        """The jobs executing in this process, with their leases."""
        with self._lock:
            return {job_id: lease for job_id, (_, _, lease) in self._running.items()}

    def cancel(self, job_ids: Iterable[str]) -> None:
        """Stop these jobs of this process (aborted, deleted or taken over elsewhere)."""
        with self._lock:
            for job_id in job_ids:
                if job_id in self._running:
                    self._running[job_id][1].set()

    def abort(self, job_id: str) -> bool:
        """Abort an active job; return False when it had already finished.

        A job executing on another replica stops there once that replica reads the new
        phase (within ``job_poll_interval``).
        """
        changed = self.store.update(job_id, only_if=list(ACTIVE_PHASES),
                                    phase=Phase.ABORTED, end_time=utcnow())
        self.cancel([job_id])
        return changed

    def remove_stale_partials(self) -> int:
        """Delete partial result files of jobs not executing; return how many were deleted.

        The files are listed before the store is read: a partial file that appears after
        that belongs to an attempt started since, which the store then shows executing.
        """
        partials = list(self.jobs_dir.glob(f"*/*{PARTIAL_SUFFIX}"))
        executing = {job.job_id: partial_name(job.attempts or 0)
                     for job in self.store.executing()}
        removed = 0
        for partial in partials:
            if executing.get(partial.parent.name) != partial.name:
                partial.unlink(missing_ok=True)
                removed += 1
        return removed

    def written_bytes(self, owner: str) -> int:
        """Bytes being written right now by ``owner``'s executing jobs: exactly for this
        replica's, as last reported for other replicas'."""
        return self._local_written(owner) + self.store.writing_bytes(
            owner, other_than=self.replica_id)

    def _local_written(self, owner: str, *, excluding: str | None = None) -> int:
        with self._lock:
            return sum(self._written.get(job_id, 0)
                       for job_id, (job_owner, _, _) in self._running.items()
                       if job_owner == owner and job_id != excluding)

    def running_count(self) -> int:
        """Number of jobs executing in this process."""
        with self._lock:
            return len(self._running)

    # ------------------------------------------------------------ execution

    def _run(self, job: Job, cancel: _JobSignal, lease: Lease) -> None:
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            cancel.set()

        timer = threading.Timer(job.execution_duration_s, on_timeout)
        timer.daemon = True
        timer.start()
        try:
            self._execute(job, cancel, lease)
        except BaseException as exc:  # noqa: BLE001 - boundary: every failure becomes a UWS error
            if self._stop.is_set():
                # The service is stopping: the job runs again, here after a restart or on
                # another replica now; a stop is not a failed attempt.
                self.store.update(job.job_id, held_by=lease, phase=Phase.QUEUED,
                                  start_time=None, runner=None, heartbeat=None,
                                  attempts=lease.attempt - 1)
                return
            if timed_out.is_set():
                message = (f"The job exceeded its execution duration of "
                           f"{job.execution_duration_s} s and was cancelled; ask for a longer "
                           "EXECUTIONDURATION or narrow the query.")
                transient = False
            else:
                report = error_report(exc)
                message = report.message
                transient = report.transient or isinstance(exc, ResultStoreFullError)
            self.store.update(job.job_id, held_by=lease, phase=Phase.ERROR,
                              end_time=utcnow(), error_message=message,
                              error_transient=transient)
        finally:
            timer.cancel()
            with self._lock:
                self._running.pop(job.job_id, None)
                self._written.pop(job.job_id, None)
                self._progress.pop(job.job_id, None)
                self._published.pop(job.job_id, None)
            if self.store.get(job.job_id) is None:
                # Deleted while it ran: its folder may have been made again by the writer.
                shutil.rmtree(self.job_dir(job.job_id), ignore_errors=True)
            self.schedule()

    def _execute(self, job: Job, cancel: _JobSignal, lease: Lease) -> None:
        params = RequestParams(values={k: [v] for k, v in job.parameters.items()
                                       if isinstance(v, str)})
        request = parse_query_request(params, default_maxrec=self.settings.default_maxrec,
                                      hard_maxrec=self.settings.hard_maxrec)
        uploads = {
            name: pq.read_table(path)
            for name, path in job.parameters.get(UPLOAD_FILES_KEY, {}).items()
        }
        def follow(result: QueryResult) -> None:
            with self._lock:
                self._progress[job.job_id] = result.progress

        started = start_query(self.engine, request, uploads,
                              timeout_s=float(job.execution_duration_s), cancel=cancel.engine,
                              catch_errors=False, on_start=follow)
        out_dir = self.job_dir(job.job_id)
        final = out_dir / result_name(lease.attempt, started.fmt.extension or "dat")
        try:
            self._write(job, started, final, cancel)
        except BaseException:
            started.result.cancel()
            raise
        size = final.stat().st_size
        last = started.result.progress.snapshot()
        completed = self.store.update(
            job.job_id, held_by=lease, phase=Phase.COMPLETED, end_time=utcnow(),
            result_path=str(final), result_mime=started.fmt.mime,
            result_size=size, overflow=bool(started.result.overflow),
            chunks_done=last.chunks_total, chunks_total=last.chunks_total,
            rows_done=started.result.rows,
        )
        if not completed:
            # Aborted, deleted or taken over while its last bytes were written: keep nothing.
            final.unlink(missing_ok=True)

    def _byte_limit(self, job: Job) -> tuple[int, str]:
        """The bytes this job may write, and the limit's description for the error."""
        per_job = self.settings.max_result_bytes
        quota = self.settings.max_result_bytes_per_owner
        others = self.store.result_bytes(job.owner, excluding=job.job_id)
        left = quota - others
        if left < per_job:
            return max(left, 0), (
                f"its owner's result quota of {quota} bytes ({others} bytes are held by "
                "other jobs; delete finished jobs to make room)")
        return per_job, f"the limit of {per_job} bytes for one result"

    def _write(self, job: Job, started: StartedQuery, final: Path, cancel: _JobSignal) -> None:
        """Write the result to a partial file, then rename it; remove it on any failure."""
        limit, limit_text = self._byte_limit(job)
        tmp = final.with_suffix(PARTIAL_SUFFIX)
        written = 0
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                for chunk in _checked(started.chunks, cancel):
                    written += len(chunk)
                    if written + self._others_writing(job) > limit:
                        raise ResultLimitError(
                            f"The result grew past {limit_text} and the job was stopped; "
                            "ask for fewer rows (MAXREC, TOP), fewer columns or a compact "
                            "format (RESPONSEFORMAT=parquet).")
                    fh.write(chunk)
                    with self._lock:
                        self._written[job.job_id] = written
            tmp.replace(final)
        except BaseException as exc:
            # The free space is measured before the partial file is removed.
            full = store_full_error(self.jobs_dir, exc) if isinstance(exc, OSError) and \
                exc.errno in DISK_FULL_ERRNOS else None
            tmp.unlink(missing_ok=True)
            if full is not None:
                raise full from exc
            raise

    def _others_writing(self, job: Job) -> int:
        """Bytes the owner's other jobs are writing: exactly in this process, and as last
        reported (read at most every :data:`REMOTE_BYTES_TTL_S`) on other replicas."""
        now = time.monotonic()
        read_at, remote = self._remote.get(job.owner, (-REMOTE_BYTES_TTL_S, 0))
        if now - read_at >= REMOTE_BYTES_TTL_S:
            remote = self.store.writing_bytes(job.owner, other_than=self.replica_id)
            self._remote[job.owner] = (now, remote)
        return self._local_written(job.owner, excluding=job.job_id) + remote

    # ------------------------------------------------------------ progress

    def report_progress(self) -> int:
        """Write the progress of executing jobs that changed to the store; return how many."""
        with self._lock:
            following = [(job_id, progress, self._running[job_id][2],
                          self._written.get(job_id, 0))
                         for job_id, progress in self._progress.items()
                         if job_id in self._running]
        changed = 0
        for job_id, progress, lease, written in following:
            snap = progress.snapshot()
            counts = (snap.chunks_done, snap.chunks_total, snap.rows, written)
            if self._published.get(job_id) == counts:
                continue
            if self.store.update(job_id, held_by=lease, chunks_done=counts[0],
                                 chunks_total=counts[1], rows_done=counts[2],
                                 bytes_written=written):
                changed += 1
            with self._lock:
                if job_id in self._progress:
                    self._published[job_id] = counts
        return changed

    def _report_loop(self) -> None:
        while not self._stop.wait(PROGRESS_INTERVAL_S):
            try:
                self.report_progress()
            except Exception:
                log.exception("writing the progress of running jobs failed")

    # ------------------------------------------------------------ destruction

    def destroy(self, job: Job) -> None:
        """Abort a job if active, delete its files and its record."""
        if job.phase in ACTIVE_PHASES:
            self.abort(job.job_id)
        shutil.rmtree(self.job_dir(job.job_id), ignore_errors=True)
        self.store.delete(job.job_id)

    def clean_expired(self) -> int:
        """Destroy every job past its destruction time; return how many."""
        expired = self.store.expired(utcnow())
        for job in expired:
            self.destroy(job)
        return len(expired)

    def _clean_loop(self) -> None:
        interval = self.settings.cleanup_interval.total_seconds()
        while not self._stop.wait(interval):
            try:
                self.clean_expired()
            except Exception:
                log.exception("cleaning expired jobs failed")


def _checked(chunks: Iterable[bytes], cancel: _JobSignal) -> Iterable[bytes]:
    """Yield the chunks until the job is aborted, timed out or the service stops."""
    for chunk in chunks:
        if cancel.is_set():
            from engine.errors import QueryCancelledError

            raise QueryCancelledError("job cancelled")
        yield chunk
