"""The remote mode: a ``Catalog`` over a TAP service, through ``pyvo.dal.TAPService``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from pyvo.dal import TAPService
from pyvo.dal.exceptions import DALQueryError, DALServiceError

from qserv_access.catalog import Catalog, ColumnMeta, TableInfo, warn_overflow
from qserv_access.errors import (
    QueryLimitExceeded,
    QueryRejected,
    QueryTimeout,
    ServiceUnavailable,
    is_timeout_message,
)
from qserv_access.jobs import Job, JobPhase, JobProgress, progress_from_jobinfo
from qserv_access.transfer import fetch_sync, offers_parquet

if TYPE_CHECKING:
    from astropy.table import Table
    from pyvo.dal.tap import AsyncTAPJob

__all__ = ["RemoteCatalog", "RemoteJob"]

TAP_SCHEMA_MAXREC = 100_000
"""Rows asked for when reading TAP_SCHEMA.columns: above a service's default MAXREC,
which could otherwise silently drop the columns of the last tables."""

_LIMIT_WORDS = ("limit", "longer than", "exceeds", "too many")


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise pyvo errors as the client's classes (which still subclass pyvo's)."""
    try:
        yield
    except DALQueryError as exc:
        text = str(exc)
        cls = QueryLimitExceeded if any(w in text.lower() for w in _LIMIT_WORDS) else QueryRejected
        if is_timeout_message(text):
            cls = QueryTimeout
        raise cls(text, None, exc.url) from exc  # pyvo's (reason, label, url)
    except DALServiceError as exc:
        code = exc.code
        if code is not None and 400 <= code < 500 and code not in (401, 403, 429):
            raise QueryRejected(str(exc), None, exc.url) from exc
        # pyvo's (reason, code, cause, url)
        raise ServiceUnavailable(str(exc), code, exc.cause, exc.url) from exc


def _session(token: str | None) -> object:
    import requests

    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


class RemoteCatalog(Catalog):
    """A catalog behind an IVOA TAP service (ours or any other).

    Parameters
    ----------
    url
        The TAP base URL, e.g. ``http://127.0.0.1:8000/tap``.
    token
        Bearer token sent with every request, when the service requires one.
    response_format
        ``"parquet"`` or ``"votable"`` for synchronous results; by default VOParquet
        when the service's capabilities offer it (several times faster for large
        results), else VOTable.
    """

    def __init__(self, url: str, *, token: str | None = None,
                 response_format: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.service = TAPService(self.url, session=_session(token))
        self._infos: list[TableInfo] | None = None
        if response_format not in (None, "parquet", "votable"):
            raise QueryRejected(f"response_format={response_format!r}: give 'parquet', "
                                "'votable' or None (Parquet when the service offers it).")
        self._format = response_format

    def __repr__(self) -> str:
        return f"<RemoteCatalog {self.url}>"

    def query(self, adql_text: str, *, maxrec: int | None = None,
              uploads: Mapping[str, Table] | None = None) -> Table:
        """Run ``adql_text`` synchronously on the service (see ``Catalog.query``).

        The result travels as VOParquet when the service offers it, else as VOTable
        (``response_format`` of the catalog); a result cut at the row limit warns.
        """
        with translated_errors():
            fetched = fetch_sync(self.service, adql_text, maxrec=maxrec, uploads=uploads,
                                 parquet=self.response_format == "parquet")
        table = fetched.table
        if fetched.overflow:
            warn_overflow(len(table), fetched.limit, hard_limit=self._hard_limit(),
                          stacklevel=3)
        table.meta["overflow"] = fetched.overflow
        table.meta["response_format"] = fetched.response_format
        return table

    @property
    def response_format(self) -> str:
        """``"parquet"`` or ``"votable"``: how synchronous results travel from the service."""
        if self._format is None:
            self._format = "parquet" if offers_parquet(self.service) else "votable"
        return self._format

    def _hard_limit(self) -> int | None:
        try:
            return int(self.service.hardlimit) if self.service.hardlimit else None
        except (DALServiceError, OSError, ValueError):
            return None

    def submit(self, adql_text: str, *, maxrec: int | None = None,
               uploads: Mapping[str, Table] | None = None) -> RemoteJob:
        """Create and start a UWS job on the service and return it."""
        with translated_errors():
            job = self.service.submit_job(adql_text, maxrec=maxrec,
                                          uploads=dict(uploads) if uploads else None)
            job.run()
        return RemoteJob(job, adql_text)

    def _table_infos(self) -> list[TableInfo]:
        if self._infos is None:
            self._infos = self._read_tap_schema()
        return self._infos

    def _read_tap_schema(self) -> list[TableInfo]:
        with translated_errors():
            tables = self.service.run_sync(
                "SELECT table_name, description FROM TAP_SCHEMA.tables").to_table()
            cols = self.service.run_sync(
                "SELECT table_name, column_name, datatype, unit, ucd, description "
                "FROM TAP_SCHEMA.columns", maxrec=TAP_SCHEMA_MAXREC).to_table()
        by_table: dict[str, list[ColumnMeta]] = {}
        ucds: dict[str, dict[str, str]] = {}
        for row in cols:
            name = str(row["table_name"])
            meta = ColumnMeta(str(row["column_name"]), _text(row["datatype"]), _text(row["unit"]),
                              _text(row["ucd"]), _text(row["description"]))
            by_table.setdefault(name, []).append(meta)
            if meta.ucd:
                # The first column with a UCD wins, unless a later one is flagged meta.main.
                found = ucds.setdefault(name, {})
                primary = meta.ucd.split(";")[0]
                if primary not in found or "meta.main" in meta.ucd:
                    found[primary] = meta.name
        infos = []
        for row in tables:
            name = str(row["table_name"])
            if name.lower().startswith("tap_schema."):
                continue
            found = ucds.get(name, {})
            infos.append(TableInfo(name, _text(row["description"]), tuple(by_table.get(name, [])),
                                   ra_column=found.get("pos.eq.ra"),
                                   dec_column=found.get("pos.eq.dec"),
                                   id_column=found.get("meta.id")))
        return infos


def _text(value: object) -> str:
    if value is None or getattr(value, "mask", False) is True:
        return ""
    return str(value) if str(value) != "--" else ""


def _age_s(when: object) -> float:
    """Seconds since ``when`` (an astropy Time or datetime, as pyvo parses UWS times)."""
    from datetime import UTC, datetime

    value = getattr(when, "datetime", when)
    if not isinstance(value, datetime):
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (datetime.now(UTC) - value).total_seconds()


class RemoteJob(Job):
    """A UWS job on a TAP service (pyvo's ``AsyncTAPJob``)."""

    def __init__(self, job: AsyncTAPJob, adql_text: str) -> None:
        self._job = job
        self.job_id = str(job.job_id)
        self.adql = adql_text
        self._started = time.monotonic()
        self._ended: float | None = None
        self._last = JobPhase.QUEUED

    @classmethod
    def attach(cls, url: str, *, token: str | None = None) -> RemoteJob:
        """Return the job at ``url`` (see :meth:`Job.from_url`)."""
        from pyvo.dal.tap import AsyncTAPJob

        with translated_errors():
            job = AsyncTAPJob(url, session=_session(token), delete=False)
            adql_text = str(job.query or "")
        attached = cls(job, adql_text)
        started = getattr(job._job, "starttime", None)
        if started is not None:
            # Elapsed time counts from the service's start, not from this call.
            attached._started -= max(0.0, _age_s(started))
        return attached

    @property
    def url(self) -> str:
        """The job's URL on the service."""
        return str(self._job.url)

    @property
    def phase(self) -> JobPhase:
        """The phase the service reports now."""
        if self._last.finished:
            return self._last
        with translated_errors():
            self._last = JobPhase(str(self._job.phase))
        if self._last.finished and self._ended is None:
            self._ended = time.monotonic()
        return self._last

    @property
    def progress(self) -> JobProgress:
        """Phase, elapsed time, and chunks done / total and rows from the job's UWS
        ``jobInfo`` when the service reports them (ours and Rubin's do)."""
        phase = self.phase
        end = self._ended if self._ended is not None else time.monotonic()
        done, total, rows = progress_from_jobinfo(getattr(self._job._job, "jobinfo", None))
        fraction = None
        if total:
            fraction = min(1.0, (done or 0) / total)
        if phase is JobPhase.COMPLETED:
            fraction = 1.0
        return JobProgress(phase, rows, fraction, end - self._started, chunks_done=done,
                           chunks_total=total)

    def cancel(self) -> None:
        """Abort the job on the service."""
        with translated_errors():
            self._job.abort()

    def wait(self, timeout_s: float | None = None) -> JobPhase:
        """Poll, backing off to every 2 s, until the job finishes or ``timeout_s`` passes."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        interval = 0.05
        while not (phase := self.phase).finished:
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(interval if deadline is None
                       else max(0.0, min(interval, deadline - time.monotonic())))
            interval = min(2.0, interval * 1.5)
        return phase

    def _fetch(self) -> Table:
        with translated_errors():
            result = self._job.fetch_result()
            table = result.to_table()
        table.meta["overflow"] = bool(getattr(result, "query_status", "") == "OVERFLOW")
        return table

    def _error(self) -> str:
        with translated_errors():
            # The parsed UWS document holds it (pyvo's AsyncTAPJob has no attribute for it).
            summary = self._job.job.errorsummary
        message = getattr(summary, "message", None)
        return str(getattr(message, "content", None) or summary or "The job failed.")

    def delete(self) -> None:
        """Delete the job and its result from the service."""
        with translated_errors():
            self._job.delete()
