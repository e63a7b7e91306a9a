"""The data directory: published tables, their manifests, and atomic publication.

Layout (every path inside a manifest is relative to its version directory, except
the HATS root of an attached catalog, which is absolute)::

    DIR/tables/<schema>.<table>/CURRENT      name of the published version, e.g. "v0002"
    DIR/tables/<schema>.<table>/v0002/table.json
    DIR/tables/<schema>.<table>/v0002/...    HATS collection, id index, regular files
    DIR/staging/<txn>/                        ingests in progress (never read by queries)

Publishing a version writes ``CURRENT.tmp`` and renames it over ``CURRENT``:
``os.replace`` is atomic on POSIX, so a reader sees the old or the new version, never a mix.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import CatalogError, UnknownTableError, suggest

MANIFEST_NAME = "table.json"
CURRENT_NAME = "CURRENT"
PARTITION_ROW_GROUP_ROWS = 65_536
"""Rows in a row group of the partition files ingest publishes (the last may hold fewer):
a small cone reads a small fraction of a partition. Measured on 20M rows: 32k-row groups
gave a 1' cone in 7.7 ms but a full GROUP BY in 151 ms; 64k gives 9.6 ms and 126 ms (DuckDB
on the unsharded files: 113 ms). Planning also reads it (how far apart two ranges may be
and still be read as one); other HATS catalogs may use other sizes, which never changes
which rows match."""

PARTITION_PAGE_ROWS = 8_192
"""Rows in a data page of the partition files ingest publishes, which carry a page index:
DuckDB then decodes only the pages of a row group whose ``_healpix_29`` range can match,
and of the other columns only the same rows' pages. Measured on one 732k-row partition of
20M rows (CPU per query, loaded machine, same rows out): a 1' cone 4.9 -> 3.8 ms, one row by
its ``_healpix_29`` (an id lookup) 6.6 -> 5.1 ms, a full GROUP BY unchanged (22.5 ms); 0.6
bytes per row more (37.6 -> 38.3: byte-stream-split floats compress a little less in smaller
pages). 4,096-row pages gained ~0.1 ms more."""


class TableKind(StrEnum):
    """How a table is stored."""

    POSITIONAL = "positional"
    """Partitioned on the sky by its own ra/dec (a director table when it has an id)."""
    CHILD = "child"
    """Partitioned with its director's rows, by a foreign key."""
    REGULAR = "regular"
    """Small and unpartitioned: every chunk query sees all of it."""


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    """Metadata of one column, the source of TAP_SCHEMA and of VOTable FIELDs."""

    name: str
    datatype: str
    """Arrow type as text (``int64``, ``double``, ``string``, ``bool``, ...)."""
    unit: str = ""
    ucd: str = ""
    description: str = ""
    principal: bool = False
    indexed: bool = False
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class Partition:
    """One HEALPix partition (chunk) of a positional or child table."""

    order: int
    ipix: int
    nrows: int
    path: str
    margin_path: str | None = None
    margin_nrows: int = 0

    @property
    def chunk_id(self) -> tuple[int, int]:
        """The ``(order, ipix)`` pair naming this partition."""
        return (self.order, self.ipix)


@dataclass(frozen=True, slots=True)
class IngestedFile:
    """An input file already part of a table (to detect ingesting it twice)."""

    path: str
    sha256: str
    size: int
    rows: int


@dataclass(frozen=True, slots=True)
class TableManifest:
    """Everything the engine knows about one published table version."""

    name: str
    """Qualified name ``schema.table`` in lower case."""
    kind: TableKind
    columns: tuple[ColumnInfo, ...]
    nrows: int
    description: str = ""
    ra_column: str | None = None
    dec_column: str | None = None
    id_column: str | None = None
    director: str | None = None
    director_key: str | None = None
    director_offset_arcsec: float | None = None
    """A child with its own positions is placed with its director rows (its ``_healpix_29``
    is the director's): the largest distance of a row's own position from there, so that a
    region on the child's positions, grown by this much, finds every chunk holding a match.
    None when the child has no positions or was ingested before this was recorded."""
    margin_arcsec: float = 0.0
    partitions: tuple[Partition, ...] = ()
    regular_files: tuple[str, ...] = ()
    id_index: str | None = None
    """Parquet file with columns (id, ``_healpix_29``) sorted by id."""
    hats_root: str | None = None
    ingested_files: tuple[IngestedFile, ...] = ()
    version: int = 1
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def schema_name(self) -> str:
        """The schema part of the name."""
        return self.name.split(".", 1)[0]

    @property
    def table_name(self) -> str:
        """The table part of the name."""
        return self.name.split(".", 1)[1]

    def column(self, name: str) -> ColumnInfo:
        """Return a column by case-insensitive name."""
        for col in self.columns:
            if col.name.lower() == name.lower():
                return col
        raise CatalogError(
            f"Table '{self.name}' has no column '{name}'."
            + suggest(name, [c.name for c in self.columns])
        )

    def to_json(self) -> str:
        """Serialise to the JSON stored as ``table.json``."""
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TableManifest:
        """Parse the JSON written by :meth:`to_json`."""
        raw = json.loads(text)
        raw["kind"] = TableKind(raw["kind"])
        raw["columns"] = tuple(ColumnInfo(**c) for c in raw["columns"])
        raw["partitions"] = tuple(Partition(**p) for p in raw.get("partitions", ()))
        raw["ingested_files"] = tuple(IngestedFile(**f) for f in raw.get("ingested_files", ()))
        raw["regular_files"] = tuple(raw.get("regular_files", ()))
        return cls(**raw)

    def with_version(self, version: int) -> TableManifest:
        """Return a copy numbered ``version``."""
        return replace(self, version=version)


@dataclass(frozen=True, slots=True)
class PublishedTable:
    """A manifest together with the directory its relative paths resolve against."""

    manifest: TableManifest
    root: Path

    def resolve(self, relpath: str) -> Path:
        """Return the absolute path of a file named in the manifest."""
        path = Path(relpath)
        return path if path.is_absolute() else self.root / path


def tables_dir(data_dir: Path) -> Path:
    """Return the folder holding one sub-folder per table."""
    return Path(data_dir) / "tables"


def staging_dir(data_dir: Path) -> Path:
    """Return the folder where ingests stage their work."""
    return Path(data_dir) / "staging"


def table_dir(data_dir: Path, name: str) -> Path:
    """Return the folder of table ``schema.table``."""
    return tables_dir(data_dir) / name.lower()


def read_table(data_dir: Path, name: str) -> PublishedTable | None:
    """Return the published version of a table, or None when it does not exist."""
    tdir = table_dir(data_dir, name)
    current = tdir / CURRENT_NAME
    if not current.is_file():
        return None
    version_dir = tdir / current.read_text().strip()
    manifest_path = version_dir / MANIFEST_NAME
    try:
        manifest = TableManifest.from_json(manifest_path.read_text())
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CatalogError(
            f"Table '{name}' in {data_dir} has an unreadable manifest {manifest_path}: {exc}"
        ) from exc
    return PublishedTable(manifest=manifest, root=version_dir)


def list_tables(data_dir: Path) -> dict[str, PublishedTable]:
    """Return every published table of a data directory, by lower-case name."""
    root = tables_dir(data_dir)
    found: dict[str, PublishedTable] = {}
    if not root.is_dir():
        return found
    for sub in sorted(root.iterdir()):
        table = read_table(data_dir, sub.name)
        if table is not None:
            found[table.manifest.name.lower()] = table
    return found


def publication_stamp(data_dir: Path) -> tuple[tuple[str, int], ...]:
    """Each table folder's name and the time its ``CURRENT`` pointer was written (ns).

    It changes when any process publishes, adds or removes a table, so comparing it with
    the last one tells whether the manifests must be read again. It runs before every
    query: one listing and one ``stat`` a table, on plain strings (``Path`` objects made
    it 3x as long). A stray file among the table folders is no table, and is skipped.
    """
    root = os.fspath(tables_dir(data_dir))
    try:
        with os.scandir(root) as entries:
            names = sorted(entry.name for entry in entries)
    except (FileNotFoundError, NotADirectoryError):
        return ()
    stamp = []
    for name in names:
        try:
            stamp.append((name, os.stat(os.path.join(root, name, CURRENT_NAME)).st_mtime_ns))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return tuple(stamp)


def require_table(data_dir: Path, name: str) -> PublishedTable:
    """Return a published table or raise an error suggesting close names."""
    table = read_table(data_dir, name)
    if table is None:
        raise UnknownTableError(
            f"Unknown table '{name}' in {data_dir}." + suggest(name, list_tables(data_dir))
        )
    return table


def next_version_name(data_dir: Path, name: str) -> tuple[int, str]:
    """Return the number and folder name the next version of a table will get."""
    tdir = table_dir(data_dir, name)
    numbers = [int(p.name[1:]) for p in tdir.glob("v[0-9]*") if p.name[1:].isdigit()]
    version = max(numbers, default=0) + 1
    return version, f"v{version:04d}"


def publish(data_dir: Path, name: str, version_dir: Path) -> None:
    """Make ``version_dir`` (already inside the table folder) the published version.

    The version folder must be complete and fsynced; only the pointer changes here.
    """
    tdir = table_dir(data_dir, name)
    if version_dir.parent != tdir:
        raise CatalogError(f"{version_dir} is not a version folder of table '{name}'")
    tmp = tdir / (CURRENT_NAME + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(version_dir.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, tdir / CURRENT_NAME)
    dir_fd = os.open(tdir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
