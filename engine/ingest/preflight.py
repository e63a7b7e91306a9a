"""Check an ingest's inputs without writing anything (``qserv-access ingest --check``).

The same checks an ingest makes before and during pass 1, on a sample of rows: the table
name and column roles, every file readable with the required columns in usable types,
positions finite and in range, ids not null, a director table to place child rows with,
and the disk estimate of :mod:`engine.ingest.space`. Nothing is created in the data
directory (no lock, no staging folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Unpack

import numpy as np
import pyarrow as pa

from engine.catalog import TableKind, read_table
from engine.errors import IngestError
from engine.ingest import pipeline, space
from engine.ingest.api import (
    TableSpec,
    director_table,
    required_columns,
    table_spec,
)
from engine.ingest.metadata import read_felis_table
from engine.ingest.options import TableOptions, checked
from engine.ingest.readers import iter_batches

SAMPLE_ROWS = 100_000
"""Rows read from the start of each file to check positions and ids."""

RANGES = {"ra": (0.0, 360.0), "dec": (-90.0, 90.0)}
"""Accepted positions (degrees), as the ingest accepts them: ra 360 is the same place as 0."""


@dataclass(frozen=True, slots=True)
class InputReport:
    """What ``ingest --check`` found: the inputs and the disk they need."""

    table: str
    kind: TableKind
    files: tuple[str, ...]
    rows: int | None
    """Rows of the files (None when a format does not tell without reading it all: CSV)."""
    sampled: int
    """Rows whose positions and ids were checked."""
    input_bytes: int
    appends_to: int | None
    """The published version the ingest would append to (None: a new table)."""
    room: space.DiskRoom

    def summary(self) -> str:
        """A few lines for people."""
        rows = f"{self.rows:,}" if self.rows is not None else "unknown (CSV)"
        target = (f"appends to version {self.appends_to}" if self.appends_to
                  else "a new table")
        return "\n".join([
            f"ok: {self.table} ({self.kind}, {target}) can be ingested",
            f"  files: {len(self.files)}, rows: {rows}, "
            f"bytes: {space.size_text(self.input_bytes)}",
            f"  checked: columns and types of every file; positions and ids of "
            f"{self.sampled:,} rows",
            f"  disk: needs about {space.size_text(self.room.needed)}, "
            f"{space.size_text(self.room.free)} free on {self.room.where()}",
        ])


def check_inputs(data_dir: str | Path, table: str, files: list[str] | tuple[str, ...], *,
                 sample_rows: int = SAMPLE_ROWS, **options: Unpack[TableOptions]
                 ) -> InputReport:
    """Validate what :func:`~engine.ingest.api.ingest_files` would ingest; write nothing.

    Parameters
    ----------
    data_dir, table, files
        As :func:`~engine.ingest.api.ingest_files`.
    sample_rows
        Rows read from the start of each file to check positions and ids.
    **options
        The table's column roles and partitioning:
        :class:`~engine.ingest.options.TableOptions`, as for
        :func:`~engine.ingest.api.ingest_files`.

    Returns
    -------
    InputReport
        The inputs and the disk estimate.

    Raises
    ------
    IngestError
        The first problem found, naming the file, row and column where there is one.
    TypeError
        An unknown keyword.
    """
    checked(options, TableOptions, "check_inputs")
    data_dir = Path(data_dir)
    spec = table_spec(table, options)
    if not files:
        raise IngestError("No input files given.")
    paths = [str(f) for f in files]
    old = read_table(data_dir, spec.table)
    if old is not None and old.manifest.kind is not spec.kind:
        raise IngestError(f"Table '{spec.table}' exists as a {old.manifest.kind} table; "
                          f"cannot append {spec.kind} data to it (check --ra/--dec/--director).")
    director_table(data_dir, spec)
    if spec.schema_yaml:
        read_felis_table(spec.schema_yaml, spec.table.split(".", 1)[1])
    inputs = pipeline.probe_inputs(paths, required_columns(spec))
    _check_key_types(inputs, spec)
    sampled = sum(_check_sample(path, spec, sample_rows) for path in paths)
    room = space.check_room(data_dir, paths, pipeline.old_inputs(old),
                            spill=spec.kind is not TableKind.REGULAR)
    known = [p.nrows for p in inputs.probes]
    rows = sum(n for n in known if n is not None) if None not in known else None
    return InputReport(spec.table, spec.kind, tuple(paths), rows, sampled,
                       sum(Path(p).stat().st_size for p in paths),
                       old.manifest.version if old else None, room)


def _check_key_types(inputs: pipeline.Inputs, spec: TableSpec) -> None:
    """Ids and director keys must be integers or strings (they are sorted and matched)."""
    for role, col in (("id", spec.id_column), ("director key", spec.director_key)):
        if not col:
            continue
        kind = inputs.schema.field(col).type
        if not (pa.types.is_integer(kind) or pa.types.is_string(kind)
                or pa.types.is_large_string(kind)):
            raise IngestError(f"{inputs.paths[0]}: column '{col}' (given as {role}) has type "
                              f"{kind}; it must hold integers or strings.")


def _check_sample(path: str, spec: TableSpec, sample_rows: int) -> int:
    """Check positions and ids of the first ``sample_rows`` rows of a file; return how
    many were read."""
    roles = {"ra": spec.ra, "dec": spec.dec, "id": spec.id_column,
             "director key": spec.director_key}
    columns = {role: col for role, col in roles.items() if col}
    if not columns:
        return 0
    names = list(dict.fromkeys(columns.values()))
    seen = 0
    for batch in iter_batches(path, names):
        batch = batch.slice(0, sample_rows - seen)
        for role, col in columns.items():
            _check_column(path, role, col, batch.column(col), seen)
        seen += batch.num_rows
        if seen >= sample_rows:
            break
    return seen


def _check_column(path: str, role: str, col: str, values: pa.Array, offset: int) -> None:
    nulls = np.asarray(values.is_null().to_numpy(zero_copy_only=False))
    if role in RANGES:
        lo, hi = RANGES[role]
        numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = nulls | ~np.isfinite(numbers)
        if bad.any():
            raise _bad(path, col, role, bad, offset, "is null or NaN")
        out = (numbers < lo) | (numbers > hi)
        if out.any():
            value = float(numbers[np.flatnonzero(out)[0]])
            raise _bad(path, col, role, out, offset,
                       f"is out of range [{lo:g}, {hi:g}] degrees (value {value!r})")
    elif nulls.any():
        raise _bad(path, col, role, nulls, offset, "is null")


def _bad(path: str, col: str, role: str, mask: np.ndarray, offset: int,
         why: str) -> IngestError:
    rows = (np.flatnonzero(mask)[:5] + offset + 1).tolist()
    return IngestError(f"{path}: column '{col}' (given as {role}) {why} at row "
                       f"{', '.join(map(str, rows))} (rows count from 1). Fix or remove these "
                       "rows before ingesting.")
