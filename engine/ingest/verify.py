"""Check a published table against its manifest (``qserv-access check``).

Reads only the files' Parquet footers (and one row per sample), so a billion-row table is
checked in seconds: the manifest, every partition, margin, regular and id-index file
exists and holds the rows the manifest records, and the total is what was expected.
Queries through the engine are the caller's part (the engine's API sits above ingest).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from engine.catalog import PublishedTable, TableManifest, read_table
from engine.errors import CatalogError


@dataclass(frozen=True, slots=True)
class Check:
    """One check: what was checked, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """``ok      name: detail`` or ``FAILED  name: detail``."""
        return f"{'ok' if self.ok else 'FAILED':<7} {self.name}: {self.detail}"


def open_table(data_dir: str | Path, table: str) -> tuple[Check, PublishedTable | None]:
    """Read the published manifest of ``table`` (the first check)."""
    try:
        found = read_table(Path(data_dir), table.lower())
    except CatalogError as exc:
        return Check("manifest", False, str(exc)), None
    if found is None:
        return Check("manifest", False, f"no published table '{table}' in {data_dir}"), None
    m = found.manifest
    return Check("manifest", True, f"{m.name} v{m.version} ({m.kind}), {m.nrows:,} rows, "
                 f"{len(m.partitions)} partitions, in {found.root}"), found


def check_files(found: PublishedTable, expect_rows: int | None = None) -> list[Check]:
    """Check every data file of the table against the manifest's row counts."""
    m = found.manifest
    checks = [_check_partitions(found)]
    if any(p.margin_path for p in m.partitions):
        checks.append(_check_margins(found))
    if m.regular_files:
        checks.append(_check_counted("files", found, list(m.regular_files), None))
    checks.append(_check_total(m))
    if expect_rows is not None:
        checks.append(Check("expected rows", m.nrows == expect_rows,
                            f"{m.nrows:,} rows published, {expect_rows:,} expected"))
    if m.id_index:
        checks.append(_check_id_index(found))
    return checks


def _rows(path: Path) -> int | str:
    """Rows of a Parquet file from its footer, or why it cannot be read."""
    if not path.is_file():
        return "missing"
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        return f"unreadable ({type(exc).__name__}: {exc})"


def _check_counted(name: str, found: PublishedTable, paths: list[str],
                   expected: list[int] | None) -> Check:
    """Every file exists and is readable, with the expected rows (when given)."""
    problems = []
    total = 0
    for i, rel in enumerate(paths):
        rows = _rows(found.resolve(rel))
        if isinstance(rows, str):
            problems.append(f"{rel} {rows}")
        elif expected is not None and rows != expected[i]:
            problems.append(f"{rel} holds {rows:,} rows, the manifest records {expected[i]:,}")
        else:
            total += rows
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return Check(name, False, f"{len(problems)} of {len(paths)} bad: "
                     + "; ".join(problems[:3]) + more)
    return Check(name, True, f"{len(paths)} files, {total:,} rows, as recorded")


def _check_partitions(found: PublishedTable) -> Check:
    parts = found.manifest.partitions
    return _check_counted("partitions", found, [p.path for p in parts],
                          [p.nrows for p in parts])


def _check_margins(found: PublishedTable) -> Check:
    parts = [p for p in found.manifest.partitions if p.margin_path]
    return _check_counted("margins", found, [str(p.margin_path) for p in parts],
                          [p.margin_nrows for p in parts])


def _check_total(m: TableManifest) -> Check:
    if not m.partitions:
        return Check("total rows", True, f"{m.nrows:,} rows (a regular table)")
    total = sum(p.nrows for p in m.partitions)
    return Check("total rows", total == m.nrows,
                 f"partitions add up to {total:,} rows, the manifest records {m.nrows:,}")


def _check_id_index(found: PublishedTable) -> Check:
    m = found.manifest
    assert m.id_index is not None
    rows = _rows(found.resolve(m.id_index))
    if isinstance(rows, str):
        return Check("id index", False, f"{m.id_index} {rows}")
    return Check("id index", rows == m.nrows,
                 f"{rows:,} entries for {m.nrows:,} rows")


def sample_rows(found: PublishedTable, columns: list[str], count: int,
                seed: int | None = None) -> list[dict[str, Any]]:
    """Up to ``count`` rows picked at random (from random non-empty partitions)."""
    rng = random.Random(seed)  # noqa: S311 - a sample to check, not a secret
    m = found.manifest
    files = [p.path for p in m.partitions if p.nrows] or list(m.regular_files)
    out = []
    for rel in rng.sample(files, min(count, len(files))):
        pf = pq.ParquetFile(found.resolve(rel))
        if not pf.metadata.num_rows:
            continue
        group = rng.randrange(pf.metadata.num_row_groups)
        table = pf.read_row_group(group, columns=columns)
        if table.num_rows:
            out.append(table.slice(rng.randrange(table.num_rows), 1).to_pylist()[0])
    return out
