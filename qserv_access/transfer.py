"""Fetching a synchronous TAP result: VOParquet when the service offers it, else VOTable.

A large result travels several times faster as Parquet (columnar, compressed, no XML to
parse; see ``bench/bench_client_formats.py``). The IVOA VOTable-Parquet convention keeps
the VOTable header (FIELDs with units, UCDs, descriptions) in the file's metadata; the
columns' own Arrow metadata carry the same, and either fills the astropy columns.

A Parquet file has no place for TAP's ``QUERY_STATUS=OVERFLOW``, so the client asks for
one row more than the limit: when that row comes back, the result was cut; it is dropped
and the caller warns.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyvo.dal.exceptions import DALOverflowWarning, DALServiceError

from qserv_access.arrow import arrow_to_astropy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from astropy.table import Table
    from pyvo.dal import TAPService

__all__ = ["PARQUET_MIME", "Fetched", "fetch_sync", "offers_parquet", "read_voparquet"]

PARQUET_MIME = "application/vnd.apache.parquet"
"""The MIME type the service's capabilities list for VOParquet (``RESPONSEFORMAT``)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A result table, whether it was cut at the limit, and which format carried it."""

    table: Table
    overflow: bool
    limit: int | None
    response_format: str


def offers_parquet(service: TAPService) -> bool:
    """Return True when the service's capabilities list a Parquet output format."""
    try:
        for capability in service.capabilities:
            for fmt in getattr(capability, "outputformats", None) or []:
                if "parquet" in str(getattr(fmt, "mime", "")).lower():
                    return True
    except (DALServiceError, OSError, ValueError, AttributeError):
        return False
    return False


def _limits(service: TAPService) -> tuple[int | None, int | None]:
    """The service's default and hard MAXREC, when its capabilities say them."""
    try:
        default, hard = service.maxrec, service.hardlimit
    except (DALServiceError, OSError, ValueError, AttributeError):
        return None, None
    return (int(default) if default else None), (int(hard) if hard else None)


def fetch_sync(service: TAPService, adql_text: str, *, maxrec: int | None,
               uploads: Mapping[str, Table] | None, parquet: bool) -> Fetched:
    """Run one synchronous query and return its table.

    With ``parquet`` the request asks for VOParquet and one row beyond the limit; an
    error document (VOTable) or a service that answers in VOTable anyway is read as
    VOTable. Without, this is pyvo's ``run_sync``.
    """
    if not parquet:
        return _votable(service, adql_text, maxrec, uploads)
    default, hard = _limits(service)
    limit = maxrec if maxrec is not None else default
    ask = None if limit is None else (limit + 1 if hard is None or limit < hard else limit)
    query = service.create_query(adql_text, maxrec=ask, uploads=dict(uploads or {}) or None,
                                 RESPONSEFORMAT="parquet")
    response = query.submit()
    body = response.content
    kind = response.headers.get("Content-Type", "")
    if response.ok and "parquet" in kind.lower():
        table = read_voparquet(body)
        overflow = limit is not None and len(table) > limit
        if overflow:
            table = table[:limit]
        # at the hard limit no extra row can be asked: a full result may have been cut
        overflow = overflow or (ask == limit and limit is not None and len(table) >= limit)
        return Fetched(table, overflow, limit, "parquet")
    return _votable_body(service, query, response, body, limit)


def read_voparquet(body: bytes) -> Table:
    """Return a VOParquet file as an astropy Table with units, UCDs and descriptions.

    Read with pyarrow (astropy's ``parquet.votable`` reader cannot stack variable-length
    text columns); what a column's Arrow metadata lacks is taken from the VOTable FIELD
    of the same name in the file's ``IVOA.VOTable-Parquet.content`` header.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = pq.read_table(pa.BufferReader(body))
    header = (arrow.schema.metadata or {}).get(b"IVOA.VOTable-Parquet.content")
    described = _votable_fields(header) if header else {}
    fields = []
    for field in arrow.schema:
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        for key, value in described.get(field.name, {}).items():
            if value and not meta.get(key):
                meta[key] = value
        fields.append(field.with_metadata({k: v for k, v in meta.items() if v}))
    return arrow_to_astropy(arrow.cast(pa.schema(fields)))


def _votable_fields(header: bytes) -> dict[str, dict[str, str]]:
    """FIELD name -> unit, ucd, description of a VOTable header (with no rows)."""
    from astropy.io.votable import parse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a header-only VOTable is unusual, not wrong
            table = parse(io.BytesIO(header), verify="ignore").get_first_table()
    except Exception:  # noqa: BLE001 - an unreadable header: the Arrow metadata is all there is
        return {}
    return {str(f.name): {"unit": str(f.unit) if f.unit is not None else "",
                          "ucd": f.ucd or "", "description": f.description or ""}
            for f in table.fields}


def _votable(service: TAPService, adql_text: str, maxrec: int | None,
             uploads: Mapping[str, Table] | None) -> Fetched:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DALOverflowWarning)  # we warn with the numbers
        result = service.run_sync(adql_text, maxrec=maxrec,
                                  uploads=dict(uploads) if uploads else None)
        table = result.to_table()
    overflow = str(getattr(result, "query_status", "")) == "OVERFLOW"
    limit = maxrec if maxrec is not None else _limits(service)[0]
    return Fetched(table, overflow, limit, "votable")


def _votable_body(service: TAPService, query: object, response: object, body: bytes,
                  limit: int | None) -> Fetched:
    """Read a VOTable answer to a Parquet request: an error document, or a service that
    does not write Parquet. pyvo raises its DALQueryError for QUERY_STATUS=ERROR."""
    import requests
    from astropy.io.votable import parse as votableparse
    from pyvo.dal.tap import TAPResults

    url = str(getattr(query, "queryurl", ""))
    try:
        vot = votableparse(io.BytesIO(body), verify="ignore")
    except Exception as exc:  # not a VOTable (HTML, text, truncated): report the HTTP status
        try:
            response.raise_for_status()  # type: ignore[attr-defined]
        except requests.RequestException as http:
            raise DALServiceError.from_except(http, url) from http
        raise DALServiceError(f"Unreadable answer ({exc}) from {url}", None, exc, url) from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DALOverflowWarning)
        result = TAPResults(vot, url=url, session=service._session)
        table = result.to_table()
    overflow = str(getattr(result, "query_status", "")) == "OVERFLOW"
    return Fetched(table, overflow, limit, "votable")
