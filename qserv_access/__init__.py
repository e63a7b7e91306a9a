"""qserv-access: spatially sharded astronomical catalogs, embedded or behind a TAP service.

A catalog ``make demo`` builds, searched as astronomers write it::

    import astropy.units as u
    from astropy.coordinates import SkyCoord
    import qserv_access

    cat = qserv_access.connect("demo-data")        # or "http://127.0.0.1:8000/tap"
    stars = cat.cone_search(SkyCoord(150.0, 2.0, unit="deg"), 30 * u.arcmin,
                            table="hip.main")      # an astropy Table with units
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qserv_access.catalog import Catalog, ColumnMeta, TableInfo
from qserv_access.errors import (
    JobFailed,
    MissingExtraError,
    QservAccessError,
    QueryCancelled,
    QueryLimitExceeded,
    QueryRejected,
    QueryTimeout,
    ServiceUnavailable,
)
from qserv_access.jobs import Job, JobPhase, JobProgress

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "Catalog",
    "ColumnMeta",
    "Job",
    "JobFailed",
    "JobPhase",
    "JobProgress",
    "MissingExtraError",
    "QservAccessError",
    "QueryCancelled",
    "QueryLimitExceeded",
    "QueryRejected",
    "QueryTimeout",
    "ServiceUnavailable",
    "TableInfo",
    "connect",
    "ingest",
    "synthetic_source",
]

__version__ = "0.1.0"


def connect(target: str | Path, *, token: str | None = None, workers: int | None = None,
            response_format: str | None = None) -> Catalog:
    """Open a catalog: a local data directory (embedded engine) or a TAP service URL.

    Parameters
    ----------
    target
        A data directory path, or an ``http(s)://`` TAP base URL.
    token
        Bearer token for a TAP service that requires one (remote only).
    workers
        Threads for the embedded engine (local only; default: CPUs).
    response_format
        How a TAP service's synchronous results travel (remote only): ``"parquet"``,
        ``"votable"``, or None for VOParquet when the service offers it.

    Returns
    -------
    Catalog
        ``query``, ``submit``, ``cone_search``, ``box_search``, ``polygon_search``, ``get``,
        ``light_curve``, ``crossmatch``, ``describe``, ``tables``.

    Raises
    ------
    QueryRejected
        ``target`` is neither a URL nor a usable directory.
    """
    text = str(target)
    if text.startswith(("http://", "https://")):
        if workers is not None:
            raise QueryRejected("workers= applies to a local data directory, not a TAP URL.")
        from qserv_access.client import RemoteCatalog

        return RemoteCatalog(text, token=token, response_format=response_format)
    if "://" in text:
        raise QueryRejected(f"Unsupported URL {text!r}: give an http(s) TAP URL or a directory.")
    if token is not None or response_format is not None:
        raise QueryRejected("token= and response_format= apply to a TAP URL, not a local "
                            "data directory.")
    from qserv_access.local import LocalCatalog

    return LocalCatalog(Path(text), workers=workers)


def ingest(data_dir: str | Path, table: str, files: Sequence[str | Path] | object,
           **options: object) -> TableInfo:
    """Ingest files, or a stream of Arrow record batches, into a table of a local data
    directory; see ``qserv_access.local.ingest``."""
    from qserv_access.local import ingest as _ingest

    return _ingest(data_dir, table, files, **options)  # type: ignore[arg-type]


def synthetic_source(rows: int, *, seed: int = 42, part_rows: int = 2_000_000) -> object:
    """A seeded synthetic catalog to :func:`ingest` without input files; see
    ``qserv_access.local.synthetic_source``."""
    from qserv_access.local import synthetic_source as _source

    return _source(rows, seed=seed, part_rows=part_rows)
