"""Client errors: each subclasses ``QservAccessError`` and the matching pyvo class.

So ``except pyvo.dal.DALQueryError`` in an existing notebook keeps working whether the
catalog is embedded or behind a TAP service.
"""

from __future__ import annotations

from pyvo.dal.exceptions import DALQueryError, DALServiceError

__all__ = [
    "JobFailed",
    "MissingExtraError",
    "QservAccessError",
    "QueryCancelled",
    "QueryLimitExceeded",
    "QueryRejected",
    "QueryTimeout",
    "ServiceUnavailable",
]


class QservAccessError(Exception):
    """Base for every error ``qserv_access`` raises on purpose."""


class QueryRejected(QservAccessError, DALQueryError):  # noqa: N818 - named for the meaning (STYLE §4)
    """The query or its arguments are wrong as written (bad ADQL, unknown table, bad value)."""


class QueryLimitExceeded(QservAccessError, DALQueryError):  # noqa: N818 - named for the meaning (STYLE §4)
    """The query exceeded a limit of the engine or service (time, rows, radius)."""


class QueryTimeout(QueryLimitExceeded):
    """A time limit passed: the query's own (the engine's or the service's execution
    duration, the query was stopped) or the caller's wait (``Job.result(timeout_s=...)``,
    the job keeps running and can be waited for again).

    A ``QueryLimitExceeded`` and so a pyvo ``DALQueryError``; catch it apart from other
    errors to retry with a longer limit or a narrower query.
    """


TIMEOUT_PHRASES = ("ran longer than its limit", "exceeded its execution duration")
"""How the engine and the TAP service word a time limit in their error messages; a remote
error is recognised as a time-out by these (UWS has no error code for it)."""


def is_timeout_message(text: str) -> bool:
    """Return True when an error message says that a time limit stopped the query."""
    lowered = text.lower()
    return any(phrase in lowered for phrase in TIMEOUT_PHRASES)


class QueryCancelled(QservAccessError, DALQueryError):  # noqa: N818 - named for the meaning (STYLE §4)
    """The query was cancelled (by ``Job.cancel()`` or a time limit) before it finished."""


class JobFailed(QservAccessError, DALQueryError):  # noqa: N818 - named for the meaning (STYLE §4)
    """An asynchronous job ended in ERROR; the message is the job's error summary."""


class ServiceUnavailable(QservAccessError, DALServiceError):  # noqa: N818 - named for the meaning (STYLE §4)
    """The catalog or service could not be reached or failed on its side; a retry may help."""


class MissingExtraError(QservAccessError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""
