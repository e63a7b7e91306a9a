"""Request parameters: case-insensitive names, GET and POST (form and multipart) alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request

from tap_service.errors import InvalidRequestError

ADQL_LANGS = {"adql", "adql-2.0", "adql-2.1"}
"""LANG values accepted (TAP 1.1: the name, optionally with a version)."""


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


async def read_params(request: Request) -> RequestParams:
    """Collect the query-string and body parameters of a request."""
    params = RequestParams()
    for key, value in request.query_params.multi_items():
        params.add(key, value)
    if request.method in ("POST", "PUT"):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form(max_files=100, max_fields=1000)
            for key, item in form.multi_items():
                if isinstance(item, str):
                    params.add(key, item)
                else:
                    params.files[key] = item
    return params


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
