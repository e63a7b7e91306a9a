"""Executes queued UWS jobs in a thread pool, with caps overall and per owner."""

from __future__ import annotations

import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

from tap_service.config import TapSettings
from tap_service.errors import error_report
from tap_service.params import RequestParams, parse_query_request
from tap_service.query import start_query
from tap_service.uws.store import ACTIVE_PHASES, Job, JobStore, Phase, utcnow

if TYPE_CHECKING:
    from engine.api import Engine

log = logging.getLogger("tap_service.uws")

UPLOAD_FILES_KEY = "_UPLOAD_FILES"
"""Internal job parameter: uploaded table name -> stored file (not shown to clients)."""


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
    """Starts QUEUED jobs when there is room, cancels them on ABORT or time-out, cleans up."""

    def __init__(self, store: JobStore, engine: Engine, settings: TapSettings) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.jobs_dir = settings.resolved_work_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(settings.max_running_jobs, thread_name_prefix="uws")
        self._lock = threading.Lock()
        self._running: dict[str, tuple[str, _JobSignal]] = {}
        self._stop = threading.Event()
        self._cleaner: threading.Thread | None = None

    def job_dir(self, job_id: str) -> Path:
        """Folder holding a job's uploads and result."""
        return self.jobs_dir / job_id

    def start(self) -> None:
        """Re-queue jobs a previous process left EXECUTING, start them and the cleaner."""
        for job in self.store.with_phase(Phase.EXECUTING):
            self.store.update(job.job_id, phase=Phase.QUEUED, start_time=None)
        self._cleaner = threading.Thread(target=self._clean_loop, name="uws-cleaner", daemon=True)
        self._cleaner.start()
        self.schedule()

    def stop(self) -> None:
        """Cancel running jobs (they are re-queued at the next start) and stop the threads."""
        self._stop.set()
        with self._lock:
            for _, signal in self._running.values():
                signal.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._cleaner is not None:
            self._cleaner.join(timeout=5)

    # ------------------------------------------------------------ scheduling

    def schedule(self) -> None:
        """Start as many QUEUED jobs as the caps allow, oldest first."""
        if self._stop.is_set():
            return
        with self._lock:
            queued = self.store.with_phase(Phase.QUEUED)
            for job in queued:
                if len(self._running) >= self.settings.max_running_jobs:
                    break
                owned = sum(1 for owner, _ in self._running.values() if owner == job.owner)
                if owned >= self.settings.max_running_jobs_per_owner:
                    continue
                claimed = self.store.update(job.job_id, only_if=[Phase.QUEUED],
                                            phase=Phase.EXECUTING, start_time=utcnow())
                if not claimed:
                    continue
                signal = _JobSignal()
                self._running[job.job_id] = (job.owner, signal)
                self._pool.submit(self._run, job, signal)

    def abort(self, job_id: str) -> bool:
        """Abort an active job; return False when it had already finished."""
        changed = self.store.update(job_id, only_if=list(ACTIVE_PHASES),
                                    phase=Phase.ABORTED, end_time=utcnow())
        with self._lock:
            running = self._running.get(job_id)
        if running is not None:
            running[1].set()
        return changed

    def running_count(self) -> int:
        """Number of jobs executing in this process."""
        with self._lock:
            return len(self._running)

    # ------------------------------------------------------------ execution

    def _run(self, job: Job, cancel: _JobSignal) -> None:
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            cancel.set()

        timer = threading.Timer(job.execution_duration_s, on_timeout)
        timer.daemon = True
        timer.start()
        try:
            self._execute(job, cancel)
        except BaseException as exc:  # noqa: BLE001 - boundary: every failure becomes a UWS error
            if self._stop.is_set():
                # The service is stopping: the job runs again at the next start.
                self.store.update(job.job_id, only_if=[Phase.EXECUTING], phase=Phase.QUEUED,
                                  start_time=None)
                return
            if timed_out.is_set():
                message = (f"The job exceeded its execution duration of "
                           f"{job.execution_duration_s} s and was cancelled; ask for a longer "
                           "EXECUTIONDURATION or narrow the query.")
                transient = False
            else:
                report = error_report(exc)
                message, transient = report.message, report.transient
            self.store.update(job.job_id, only_if=[Phase.EXECUTING], phase=Phase.ERROR,
                              end_time=utcnow(), error_message=message,
                              error_transient=transient)
        finally:
            timer.cancel()
            with self._lock:
                self._running.pop(job.job_id, None)
            self.schedule()

    def _execute(self, job: Job, cancel: _JobSignal) -> None:
        params = RequestParams(values={k: [v] for k, v in job.parameters.items()
                                       if isinstance(v, str)})
        request = parse_query_request(params, default_maxrec=self.settings.default_maxrec,
                                      hard_maxrec=self.settings.hard_maxrec)
        uploads = {
            name: pq.read_table(path)
            for name, path in job.parameters.get(UPLOAD_FILES_KEY, {}).items()
        }
        started = start_query(self.engine, request, uploads,
                              timeout_s=float(job.execution_duration_s), cancel=cancel.engine,
                              catch_errors=False)
        out_dir = self.job_dir(job.job_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        final = out_dir / f"result.{started.fmt.extension or 'dat'}"
        tmp = final.with_suffix(".partial")
        with open(tmp, "wb") as fh:
            for chunk in started.chunks:
                if cancel.is_set():
                    from engine.errors import QueryCancelledError

                    raise QueryCancelledError("job cancelled")
                fh.write(chunk)
        tmp.replace(final)
        self.store.update(
            job.job_id, only_if=[Phase.EXECUTING], phase=Phase.COMPLETED, end_time=utcnow(),
            result_path=str(final), result_mime=started.fmt.mime,
            result_size=final.stat().st_size, overflow=bool(started.result.overflow),
        )

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
