"""Asynchronous queries: the ``Job`` interface shared by the embedded and remote catalogs."""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from qserv_access.errors import JobFailed, QueryCancelled, QueryTimeout, is_timeout_message

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["Job", "JobPhase", "JobProgress", "progress_from_jobinfo"]


class JobPhase(StrEnum):
    """UWS 1.1 execution phases (values are exactly the UWS strings)."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"

    @property
    def finished(self) -> bool:
        """True for the phases a job never leaves."""
        return self in (JobPhase.COMPLETED, JobPhase.ERROR, JobPhase.ABORTED)


@dataclass(frozen=True, slots=True)
class JobProgress:
    """A snapshot of a job's progress."""

    phase: JobPhase
    rows: int | None
    """Rows read so far (None when the service does not say)."""
    fraction: float | None
    """Share of the work done, 0..1 (None when unknown)."""
    elapsed_s: float
    chunks_done: int | None = None
    """Chunks (sky partitions) read so far, when the engine or service says."""
    chunks_total: int | None = None
    """Chunks the query reads, when the engine or service says."""

    def summary(self) -> str:
        """One line for people: ``EXECUTING: 12 of 40 chunks, 1,234 rows, 850 ms``."""
        parts = []
        if self.chunks_total:
            parts.append(f"{self.chunks_done or 0:,} of {plural(self.chunks_total, 'chunk')}")
        if self.rows is not None:
            parts.append(plural(self.rows, "row"))
        parts.append(format_duration(self.elapsed_s))
        return f"{self.phase}: " + ", ".join(parts)


def plural(count: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,234 rows``.

    Examples
    --------
    >>> plural(1, "row"), plural(0, "row"), plural(12345, "chunk")
    ('1 row', '0 rows', '12,345 chunks')
    """
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def format_duration(seconds: float) -> str:
    """A duration as people read it: milliseconds below a second, then seconds, minutes.

    Examples
    --------
    >>> format_duration(0.0123), format_duration(0.5), format_duration(3.25)
    ('12 ms', '500 ms', '3.2 s')
    >>> format_duration(75), format_duration(3725)
    ('1 min 15 s', '1 h 02 min')
    """
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


JOBINFO_CHUNKS_DONE = "tap_chunks_processed"
JOBINFO_CHUNKS_TOTAL = "tap_total_chunks"
JOBINFO_PERCENT = "pct_complete"
"""Rubin's TAP service (lsst-tap-service, fed by qserv-kafka) reports a running job's
progress in ``<uws:jobInfo>`` as ``pct_complete``, ``tap_chunks_processed`` and
``tap_total_chunks``; we write and read the same names, so one client reads both."""
JOBINFO_ROWS = "qsa_rows"
"""Rows read so far: ours (no namespace, like Rubin's: validators warn about unknown ones)."""


def progress_from_jobinfo(jobinfo: object) -> tuple[int | None, int | None, int | None]:
    """Return ``(chunks_done, chunks_total, rows)`` from a pyvo-parsed ``jobInfo``.

    Each is None when the service did not say (an old service, or another one's jobInfo).
    """
    get = getattr(jobinfo, "get", None)
    if get is None:
        return None, None, None

    def number(name: str) -> int | None:
        element = get(name)
        value = getattr(element, "value", None)
        if value is None:
            value = getattr(element, "text", None)
        try:
            return None if value is None else int(float(str(value).strip()))
        except ValueError:
            return None

    return number(JOBINFO_CHUNKS_DONE), number(JOBINFO_CHUNKS_TOTAL), number(JOBINFO_ROWS)


POLL_INTERVAL_S = 0.05
"""How often ``wait`` polls a local job's phase; remote jobs use pyvo's own back-off."""


class Job(abc.ABC):
    """An asynchronous query: poll ``phase``/``progress``, ``cancel()``, or ``result()``.

    A job on a TAP service can be found again from its URL (in another notebook, after a
    kernel restart): ``Job.from_url(url)``.
    """

    job_id: str
    adql: str

    @staticmethod
    def from_url(url: str, *, token: str | None = None) -> Job:
        """Re-attach to a job on a TAP service by its URL (``.../tap/async/<job-id>``).

        Parameters
        ----------
        url
            The job's URL, as ``job.url`` gave it.
        token
            Bearer token, for a service that requires one.

        Returns
        -------
        Job
            The job, in whatever phase it is now.

        Raises
        ------
        QueryRejected
            No job at that URL (it may have been destroyed).
        ServiceUnavailable
            The service could not be reached.
        """
        from qserv_access.client import RemoteJob

        return RemoteJob.attach(url, token=token)

    @property
    @abc.abstractmethod
    def phase(self) -> JobPhase:
        """The job's current UWS phase."""

    @property
    @abc.abstractmethod
    def progress(self) -> JobProgress:
        """Rows read so far, share done when known, and elapsed time."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Ask the job to stop; the phase becomes ABORTED once it has."""

    @abc.abstractmethod
    def _fetch(self) -> Table:
        """Return the result of a COMPLETED job."""

    @abc.abstractmethod
    def _error(self) -> str:
        """Return the error summary of a job in ERROR."""

    def done(self) -> bool:
        """True once the job has finished, in any way."""
        return self.phase.finished

    def wait(self, timeout_s: float | None = None) -> JobPhase:
        """Block until the job finishes or ``timeout_s`` passes; return the phase."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not (phase := self.phase).finished:
            if deadline is not None and time.monotonic() >= deadline:
                return phase
            time.sleep(POLL_INTERVAL_S)
        return phase

    def result(self, timeout_s: float | None = None) -> Table:
        """Wait for the job and return its rows as an astropy Table.

        Raises
        ------
        QueryTimeout
            The job did not finish within ``timeout_s`` (it keeps running: call
            ``result()`` again, or ``cancel()``), or a time limit of the engine or
            service stopped it.
        QueryCancelled
            The job was aborted.
        JobFailed
            The job ended in ERROR (the message is its error summary).
        """
        phase = self.wait(timeout_s)
        if phase is JobPhase.COMPLETED:
            return self._fetch()
        if phase is JobPhase.ABORTED:
            raise QueryCancelled(f"Job {self.job_id} was aborted before it finished.")
        if phase is JobPhase.ERROR:
            message = self._error()
            if is_timeout_message(message):
                raise QueryTimeout(message)
            raise JobFailed(message)
        raise self._still_running(phase, timeout_s)

    def _still_running(self, phase: JobPhase, timeout_s: float | None) -> QueryTimeout:
        """The error for a wait that ended before the job did."""
        return QueryTimeout(
            f"Job {self.job_id} is still {phase} after {timeout_s or 0:g} s; it keeps "
            "running: call result() again to keep waiting, or cancel() it.")

    def _repr_html_(self) -> str:
        from html import escape

        return f"<b>Job {escape(self.job_id)}</b> {escape(self.progress.summary())}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.job_id} {self.phase}>"
