"""The one place where exceptions become HTTP statuses, VOTable errors and UWS summaries."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from engine.errors import EngineError, QueryCancelledError, QueryLimitError, UserError
from tap_service.votable import error_votable

log = logging.getLogger("tap_service")

VOTABLE_MEDIA_TYPE = "application/x-votable+xml"


class TapError(Exception):
    """An error of the service itself, carrying its HTTP status."""

    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or {}


class InvalidRequestError(TapError):
    """The request is not a valid TAP request (missing QUERY, unknown LANG, bad MAXREC...)."""


class UploadError(InvalidRequestError):
    """An uploaded table cannot be used."""


class AuthenticationError(TapError):
    """No or an unknown bearer token."""

    status = 401


class ForbiddenError(TapError):
    """The caller may not see or change this job."""

    status = 403


class NotFoundError(TapError):
    """No such job or resource."""

    status = 404


class MethodNotAllowedError(TapError):
    """The resource exists but does not answer this HTTP method."""

    status = 405


class ConflictError(TapError):
    """The job is in a phase where this change is not allowed."""

    status = 409


class PayloadTooLargeError(TapError):
    """The request body is larger than a configured limit.

    The answer closes the connection (RFC 9110 §15.5.14): otherwise the server would go on
    receiving, and dropping, the rest of a body it has already refused.
    """

    status = 413

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Connection": "close"})


class ServiceBusyError(TapError):
    """A synchronous query's time limit passed while it waited for its turn to run."""

    status = 503

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


@dataclass(frozen=True, slots=True)
class ErrorReport:
    """What the client is told about a failure."""

    status: int
    message: str
    transient: bool
    """UWS errorSummary type: transient (retry may help) or fatal."""


def error_report(exc: BaseException) -> ErrorReport:
    """Classify any exception: user mistakes 400, transient 503, the unexpected 500 and logged."""
    if isinstance(exc, TapError):
        return ErrorReport(exc.status, str(exc), transient=False)
    if isinstance(exc, RequestValidationError):
        return ErrorReport(400, f"Invalid request: {exc}", transient=False)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return ErrorReport(exc.status_code, str(exc.detail), transient=False)
    if isinstance(exc, QueryCancelledError):
        return ErrorReport(400, f"Query cancelled: {exc}", transient=False)
    if isinstance(exc, QueryLimitError):
        return ErrorReport(400, str(exc), transient=False)
    if isinstance(exc, UserError):
        return ErrorReport(400, str(exc), transient=False)
    if isinstance(exc, EngineError) and exc.transient:
        return ErrorReport(503, f"Temporarily unavailable, please retry: {exc}", transient=True)
    error_id = uuid.uuid4().hex[:12]
    log.error("internal error %s", error_id, exc_info=exc)
    return ErrorReport(
        500,
        f"Internal error (id {error_id}); the service log has the details under this id.",
        transient=False,
    )


def error_response(exc: BaseException, headers: dict[str, str] | None = None) -> Response:
    """Return the DALI VOTable error document for any exception."""
    report = error_report(exc)
    if isinstance(exc, (TapError, HTTPException)) and exc.headers:
        headers = {**exc.headers, **(headers or {})}
    if isinstance(exc, AuthenticationError):
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return Response(
        error_votable(report.message), status_code=report.status,
        media_type=VOTABLE_MEDIA_TYPE, headers=headers,
    )
