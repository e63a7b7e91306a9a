"""Asynchronous queries: the ``Job`` interface shared by the embedded and remote catalogs."""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from qserv_access.errors import JobFailed, QueryCancelled

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["Job", "JobPhase", "JobProgress"]


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


POLL_INTERVAL_S = 0.05
"""How often ``wait`` polls a local job's phase; remote jobs use pyvo's own back-off."""


class Job(abc.ABC):
    """An asynchronous query: poll ``phase``/``progress``, ``cancel()``, or ``result()``."""

    job_id: str
    adql: str

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
        QueryCancelled
            The job was aborted, or it did not finish within ``timeout_s``.
        JobFailed
            The job ended in ERROR (the message is its error summary).
        """
        phase = self.wait(timeout_s)
        if phase is JobPhase.COMPLETED:
            return self._fetch()
        if phase is JobPhase.ABORTED:
            raise QueryCancelled(f"Job {self.job_id} was aborted before it finished.")
        if phase is JobPhase.ERROR:
            raise JobFailed(self._error())
        raise QueryCancelled(
            f"Job {self.job_id} is still {phase} after {timeout_s} s; call result() again "
            "to keep waiting, or cancel() it.")

    def _repr_html_(self) -> str:
        p = self.progress
        rows = "" if p.rows is None else f", {p.rows:,} rows"
        return f"<b>Job {self.job_id}</b>: {p.phase}{rows}, {p.elapsed_s:.1f} s"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.job_id} {self.phase}>"
