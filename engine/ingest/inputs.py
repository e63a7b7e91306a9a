"""Resolve what an ingest reads: the new rows (files or a stream), the published version's
partitions an append re-reads, their unified schema, and the parts pass 1 runs on."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Iterator

import pyarrow as pa

from engine.errors import IngestError, suggest
from engine.ingest import pipeline
from engine.ingest.readers import FieldMeta, arrow_field_meta
from engine.ingest.sources import (
    BatchSource,
    SourcePart,
    file_parts,
    memory_parts,
    stream_parts,
)
from engine.sky.healpix import SPATIAL_INDEX_COLUMN


@dataclasses.dataclass(frozen=True, slots=True)
class NewRows:
    """The rows an ingest adds: files, or a stream (replayable or one-shot)."""

    files: tuple[str, ...] = ()
    stream: BatchSource | None = None
    one_shot: Iterator[pa.RecordBatch] | None = None
    sample: pa.RecordBatch | None = None
    """The stream's first batch: its schema, and a sample for the disk estimate."""
    name: str = ""
    nrows: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Work:
    """One ingest's inputs, resolved: every input (new first, or the published version's
    partitions first for a stream), their unified schema, and the parts pass 1 reads."""

    inputs: pipeline.Inputs
    labels: tuple[str, ...]
    """Each input's name in errors, by ``input_index``."""
    parts: Iterable[SourcePart]
    n_new_files: int
    total: int | None
    """Rows to read, when known (the progress bar's total)."""


def resolve(new: NewRows, old_paths: list[str], required: dict[str, str], *,
            split_rows: int, one_shot_rows: int) -> Work:
    """Probe the inputs and cut them in parts: new files first, then the published
    version's partitions; or those partitions first, then the stream.

    ``required`` maps roles (ra, dec, id, director key) to the columns that must exist.
    Parquet files are cut at ``split_rows``; a one-shot stream is gathered in parts of
    ``one_shot_rows`` rows as pass 1 reads it.
    """
    if new.files:
        inputs = pipeline.probe_inputs(list(new.files) + old_paths, required)
        known = [p.nrows for p in inputs.probes]
        total = sum(n or 0 for n in known) if all(n is not None for n in known) else None
        return Work(inputs, inputs.paths, file_parts(inputs.paths, len(new.files), split_rows),
                    len(new.files), total)
    assert new.sample is not None
    inputs = _stream_inputs(new.sample.schema, old_paths, required, new.name)
    parts: Iterable[SourcePart] = file_parts(inputs.paths, 0, split_rows)
    index = len(inputs.paths)
    if new.stream is not None:
        parts = [*parts, *stream_parts(new.stream, index)]
    else:
        assert new.one_shot is not None
        parts = itertools.chain(parts, memory_parts(new.one_shot, new.name, index,
                                                    one_shot_rows))
    old_rows = sum(p.nrows or 0 for p in inputs.probes)
    total = old_rows + new.nrows if new.nrows is not None else None
    return Work(inputs, (*inputs.paths, new.name), parts, 0, total)


def _stream_inputs(schema: pa.Schema, old_paths: list[str], required: dict[str, str],
                   label: str) -> pipeline.Inputs:
    """The inputs of a stream ingest: the stream's schema, unified with an appended table's."""
    names = [n for n in schema.names if n != SPATIAL_INDEX_COLUMN]
    for role, col in required.items():
        if col not in names:
            raise IngestError(f"{label}: no column '{col}' (given as {role})."
                              + suggest(col, names) + f" Columns are: {', '.join(names[:20])}.")
    schema = pa.schema([schema.field(n) for n in names])
    if not old_paths:
        return pipeline.Inputs((), (), schema)
    old = pipeline.probe_inputs(old_paths, required)
    if set(old.schema.names) != set(names):
        raise IngestError(
            f"{label}: its columns differ from the table's: missing "
            f"{sorted(set(old.schema.names) - set(names))}, extra "
            f"{sorted(set(names) - set(old.schema.names))}.")
    try:
        unified = pa.unify_schemas([old.schema, schema], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise IngestError(f"{label}: column types differ from the table's: {exc}") from exc
    return pipeline.Inputs(old.paths, old.probes, unified)


def stream_meta(schema: pa.Schema) -> dict[str, FieldMeta]:
    """Units, UCDs and descriptions a stream's Arrow field metadata gives."""
    found = {f.name: arrow_field_meta(f) for f in schema}
    return {k: v for k, v in found.items() if v.unit or v.ucd or v.description}
