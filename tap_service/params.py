"""Request parameters: case-insensitive names, GET and POST (form and multipart) alike."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Scope

from tap_service.errors import InvalidRequestError
from tap_service.forms import FormLimits, read_form

if TYPE_CHECKING:
    from tap_service.config import TapSettings

ADQL_LANGS = {"adql", "adql-2.0", "adql-2.1"}
"""LANG values accepted (TAP 1.1: the name, optionally with a version)."""

PHASE_VALUES = frozenset({"RUN", "ABORT", "PENDING", "QUEUED", "EXECUTING", "COMPLETED",
                          "ERROR", "ABORTED", "UNKNOWN", "HELD", "SUSPENDED", "ARCHIVED"})
"""PHASE values a request may carry: the UWS 1.1 actions and, as job list filters, its phases."""

MAX_LAST = 1_000_000_000
"""Largest LAST: more jobs than anyone holds, and within every database's integer range."""

_STATE_KEY = "tap_params"
"""Where a request's parameters are kept (``request.state``), so the body is read once."""

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
"""Characters XML 1.0 cannot hold: a value with one could not be echoed in a job document."""


@dataclass(slots=True)
class RequestParams:
    """Parameters of one request; names upper-cased, every value kept in order."""

    values: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)
    """Multipart file parts by their (case-kept) part name, for UPLOAD=name,param:part."""

    def get(self, name: str) -> str | None:
        """Return the last value of a parameter, or None."""
        found = self.values.get(name.upper())
        return found[-1] if found else None

    def all(self, name: str) -> list[str]:
        """Return every value of a parameter."""
        return self.values.get(name.upper(), [])

    def add(self, name: str, value: str) -> None:
        """Add one value."""
        self.values.setdefault(name.upper(), []).append(value)

    def close(self) -> None:
        """Close the uploaded files (their spools may be temporary files on disk)."""
        for upload in self.files.values():
            upload.file.close()


async def read_params(request: Request) -> RequestParams:
    """Collect the query-string and body parameters of a request, once, within the limits.

    Raises
    ------
    InvalidRequestError
        A reserved or malformed parameter, or too many of them.
    PayloadTooLargeError
        The body is over the service's limits (it is read no further).
    """
    cached: RequestParams | None = getattr(request.state, _STATE_KEY, None)
    if cached is not None:
        return cached
    settings: TapSettings = request.app.state.tap.settings
    limits = FormLimits(max_text_bytes=settings.form_max_bytes,
                        max_fields=settings.form_max_fields,
                        max_upload_bytes=settings.upload_max_bytes)
    items = request.query_params.multi_items()
    params = RequestParams()
    if request.method in ("POST", "PUT"):
        form = await read_form(request, limits)
        items = [*items, *form.fields]
        params.files = form.files
    if len(items) + len(params.files) > limits.max_fields:
        raise limits.too_many_fields()
    for key, value in items:
        params.add(key, value)
    check_params(params)
    setattr(request.state, _STATE_KEY, params)
    return params


def close_request_params(scope: Scope) -> None:
    """Close what :func:`read_params` kept for a request, once the request is answered."""
    params = scope.get("state", {}).get(_STATE_KEY)
    if isinstance(params, RequestParams):
        params.close()


def check_params(params: RequestParams) -> None:
    """Refuse what no handler may see: reserved names, unstorable text, malformed UWS values.

    The UWS values are checked here, where every request passes, so that a malformed one is
    a 400 whichever endpoint receives it; the parse functions below also give the values.
    """
    for name, values in params.values.items():
        if name.startswith("_"):
            raise InvalidRequestError(
                f"Parameter names starting with '_' are reserved for the service: '{name}'."
            )
        for value in values:
            bad = _XML_ILLEGAL.search(value)
            if bad is not None:
                raise InvalidRequestError(
                    f"Parameter {name} holds the control character U+{ord(bad.group()):04X} "
                    f"at position {bad.start() + 1}, which TAP's XML documents cannot carry."
                )
    for value in params.all("EXECUTIONDURATION"):
        parse_execution_duration(value, max_s=0)
    for name in ("DESTRUCTION", "AFTER"):
        for value in params.all(name):
            parse_time(value, name=name)
    for value in params.all("LAST"):
        parse_last(value)
    for value in params.all("WAIT"):
        parse_wait(value, max_s=0.0)
    for value in params.all("PHASE"):
        if value.strip() and value.strip().upper() not in PHASE_VALUES:
            raise InvalidRequestError(
                f"Invalid PHASE '{value}': use RUN or ABORT to control a job, or one of "
                f"{', '.join(sorted(PHASE_VALUES - {'RUN', 'ABORT'}))} to filter the job list."
            )


def _number(value: str, name: str, expected: str) -> float:
    """A finite number; NaN, infinities and numbers beyond a double (``1e400``) are refused."""
    try:
        number = float(value.strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidRequestError(f"Invalid {name} '{value}': give {expected}.")
    return number


def parse_execution_duration(value: str, *, max_s: int) -> int:
    """Return EXECUTIONDURATION in whole seconds: 0 (no limit) and anything over ``max_s`` give
    ``max_s``, the service's longest.

    Raises
    ------
    InvalidRequestError
        Not a number, not finite, or negative.
    """
    expected = "a whole number of seconds, 0 or more (0 asks for the longest allowed)"
    seconds = _number(value, "EXECUTIONDURATION", expected)
    if seconds < 0:
        raise InvalidRequestError(f"Invalid EXECUTIONDURATION '{value}': give {expected}.")
    if seconds == 0 or seconds >= max_s:
        return max_s
    return int(seconds)


def parse_wait(value: str, *, max_s: float) -> float:
    """Return WAIT in seconds: negative values and anything over ``max_s`` give ``max_s``."""
    seconds = _number(value, "WAIT", "a number of seconds (-1 waits as long as allowed)")
    return max_s if seconds < 0 or seconds >= max_s else seconds


def parse_last(value: str) -> int:
    """Return LAST, a positive count of jobs, at most :data:`MAX_LAST`."""
    text = value.strip()
    if (not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_LAST))
            or not 1 <= int(text) <= MAX_LAST):
        raise InvalidRequestError(
            f"Invalid LAST '{value}': give a whole number from 1 to {MAX_LAST}."
        )
    return int(text)


def parse_time(value: str, *, name: str) -> datetime:
    """Return an ISO 8601 time (UTC when it gives no zone) as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidRequestError(
            f"Invalid {name} '{value}': give an ISO 8601 time, e.g. 2030-01-01T00:00:00Z."
        ) from None


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A validated TAP query request."""

    query: str
    maxrec: int
    response_format: str | None
    upload: str | None


def parse_maxrec(value: str | None, *, default: int, hard: int) -> int:
    """Return MAXREC as given (capped at the hard limit) or the default."""
    if value is None or value.strip() == "":
        return default
    try:
        maxrec = int(value.strip())
    except ValueError:
        raise InvalidRequestError(
            f"Invalid MAXREC '{value}': give a non-negative integer (at most {hard})."
        ) from None
    if maxrec < 0:
        raise InvalidRequestError(f"Invalid MAXREC {maxrec}: it must not be negative.")
    return min(maxrec, hard)


def parse_query_request(params: RequestParams, *, default_maxrec: int, hard_maxrec: int,
                        require_query: bool = True) -> QueryRequest:
    """Validate REQUEST, LANG, QUERY, MAXREC and RESPONSEFORMAT/FORMAT."""
    request = params.get("REQUEST")
    if request is not None and request.lower() != "doquery":
        raise InvalidRequestError(
            f"Unsupported REQUEST '{request}'; the only value TAP 1.1 defines is doQuery."
        )
    lang = params.get("LANG")
    query = params.get("QUERY")
    if require_query:
        if lang is None:
            raise InvalidRequestError("Missing parameter LANG; use LANG=ADQL.")
        if lang.strip().lower() not in ADQL_LANGS:
            raise InvalidRequestError(
                f"Unsupported LANG '{lang}'; this service accepts ADQL (ADQL-2.0, ADQL-2.1)."
            )
        if query is None or not query.strip():
            raise InvalidRequestError("Missing parameter QUERY: give the ADQL query text.")
    maxrec = parse_maxrec(params.get("MAXREC"), default=default_maxrec, hard=hard_maxrec)
    fmt = params.get("RESPONSEFORMAT") or params.get("FORMAT")
    return QueryRequest(query=query or "", maxrec=maxrec, response_format=fmt,
                        upload=";".join(params.all("UPLOAD")) or None)
