"""Where a catalog's files live: a local folder (or shared volume), or an fsspec URL.

A data directory may be ``/data/catalog`` (local disk or a volume every worker mounts at
the same path) or a URL such as ``s3://bucket/prefix``. For a URL the engine keeps a local
copy of the catalog's *metadata* only (``CURRENT``, ``table.json``, id indexes) and plans
on it as on a local folder; the chunk SQL names files under that copy, and
:meth:`CatalogLocation.to_url` turns those names into the URL's before a task runs. Chunk
files themselves are only ever read where the task runs, through an fsspec filesystem
registered in a locked DuckDB (:func:`open_url_database`) whose allow-list is the
catalog's URL prefix: untrusted ADQL still cannot name a file, and the generated SQL can
read nothing outside the catalog.

Storage options (credentials, endpoint) come from :attr:`EngineOptions.storage_options`
or, for ``s3://``, from the usual AWS variables that botocore reads
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``,
``AWS_DEFAULT_REGION``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from engine.catalog import CURRENT_NAME, MANIFEST_NAME, TableManifest
from engine.errors import CatalogError
from engine.plan import ChunkTask

METADATA_CACHE_NAME = "qserv-access-catalogs"
"""Folder under the system's temporary directory holding local copies of remote catalogs'
metadata, one sub-folder per URL."""


def is_url(data_dir: str | Path) -> bool:
    """Whether ``data_dir`` is an fsspec URL (``s3://...``) rather than a local path.

    Examples
    --------
    >>> is_url("s3://bucket/cat"), is_url("/data/cat"), is_url("file:///data/cat")
    (True, False, False)
    """
    text = str(data_dir)
    return "://" in text and not text.startswith("file://")


@dataclass(frozen=True, slots=True)
class CatalogLocation:
    """A catalog read through an fsspec URL, and the local copy of its metadata."""

    url: str
    """The catalog's root, without a trailing slash (``s3://bucket/prefix``)."""
    local_root: Path
    """The local folder holding the copy of its metadata."""
    storage_options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        """The URL's scheme (``s3``)."""
        return self.url.split("://", 1)[0]

    def to_url(self, sql: str) -> str:
        """Return ``sql`` with every quoted file name under the local copy made a URL.

        Only quoted literals that start with the local root change: the planner writes
        every path it reads as such a literal, and the root is a private folder name.

        Examples
        --------
        >>> loc = CatalogLocation("s3://b/cat", Path("/tmp/c1"))
        >>> loc.to_url("SELECT * FROM read_parquet(['/tmp/c1/tables/x/a.parquet'])")
        "SELECT * FROM read_parquet(['s3://b/cat/tables/x/a.parquet'])"
        """
        return sql.replace("'" + str(self.local_root) + os.sep, "'" + self.url + "/")

    def task_to_url(self, task: ChunkTask) -> ChunkTask:
        """Return ``task`` reading the catalog through its URL (its SQL alone: anything
        else a task may carry names local files)."""
        return ChunkTask(sql=self.to_url(task.sql), chunks=task.chunks,
                         memory_tables=task.memory_tables)


def filesystem(protocol: str, storage_options: Mapping[str, Any]) -> Any:
    """Return the fsspec filesystem for ``protocol`` (``s3``, ``gcs``, ``memory``, ...).

    Raises
    ------
    CatalogError
        The protocol is unknown to fsspec.
    ImportError
        Its implementation is not installed (``s3fs`` for ``s3://``).
    """
    import fsspec

    try:
        return fsspec.filesystem(protocol, **dict(storage_options))
    except ValueError as exc:
        raise CatalogError(f"Unknown storage protocol '{protocol}://' in the data directory; "
                           "use a local path or an fsspec URL such as s3://bucket/prefix.") from exc
    except ImportError as exc:
        raise ImportError(f"Reading a catalog from {protocol}:// needs its fsspec driver "
                          f"({exc}); for s3:// run pip install 'qserv-access[s3]'.") from exc


def mirror_metadata(url: str, storage_options: Mapping[str, Any] | None = None,
                    cache_root: Path | None = None) -> CatalogLocation:
    """Copy the published tables' metadata of the catalog at ``url`` to a local folder.

    Copies ``tables/<name>/CURRENT`` and the current version's ``table.json`` and id
    index of every table; chunk files stay where they are. Called again, it refreshes the
    copy (a table published since then appears).

    Raises
    ------
    CatalogError
        ``url`` holds no catalog (no ``tables/`` folder).
    """
    options = dict(storage_options or {})
    root = url.rstrip("/")
    fs = filesystem(root.split("://", 1)[0], options)
    cache = cache_root or Path(tempfile.gettempdir()) / METADATA_CACHE_NAME
    local = cache / hashlib.sha256(root.encode()).hexdigest()[:16]
    tables = root + "/tables"
    try:
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(tables, detail=False)]
    except FileNotFoundError as exc:
        raise CatalogError(f"No catalog at {root}: {tables} does not exist. Give the URL of "
                           "a data directory (the folder holding tables/).") from exc
    for name in names:
        _mirror_table(fs, f"{tables}/{name}", local / "tables" / name)
    (local / "tables").mkdir(parents=True, exist_ok=True)
    return CatalogLocation(root, local.resolve(), options)


def _mirror_table(fs: Any, remote: str, local: Path) -> None:
    try:
        version = fs.cat_file(f"{remote}/{CURRENT_NAME}").decode().strip()
    except FileNotFoundError:
        return  # a table being ingested for the first time: not published yet
    version_dir = local / version
    version_dir.mkdir(parents=True, exist_ok=True)
    text = fs.cat_file(f"{remote}/{version}/{MANIFEST_NAME}").decode()
    manifest = TableManifest.from_json(text)
    if manifest.id_index and not Path(manifest.id_index).is_absolute():
        target = version_dir / manifest.id_index
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{remote}/{version}/{manifest.id_index}", str(target))
    (version_dir / MANIFEST_NAME).write_text(text)
    tmp = local / (CURRENT_NAME + ".tmp")
    tmp.write_text(version + "\n")
    os.replace(tmp, local / CURRENT_NAME)


def open_url_database(location: CatalogLocation, *, threads: int = 1,
                      macros: Sequence[str] = (),
                      memory_limit_bytes: int | None = None) -> duckdb.DuckDBPyConnection:
    """Return a locked DuckDB that reads Parquet under ``location.url`` and nothing else.

    The fsspec filesystem is registered before the lock, so no query can register
    another; the allow-list is the catalog's URL prefix only (not the local copy).
    """
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False,
                                             "threads": threads})
    con.register_filesystem(filesystem(location.protocol, location.storage_options))
    con.execute("SET GLOBAL parquet_metadata_cache = true")
    if memory_limit_bytes:
        con.execute(f"SET memory_limit = '{int(memory_limit_bytes)}B'")
    con.execute("SET temp_directory = ''")
    for macro in macros:
        con.execute(macro)
    con.execute("SET allowed_directories = $dirs", {"dirs": [location.url + "/"]})
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
