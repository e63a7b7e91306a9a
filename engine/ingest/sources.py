"""What an ingest reads: files, or a stream of Arrow record batches, cut in parts.

Pass 1 runs one job per :class:`SourcePart`. A part is picklable and knows how to yield
its rows as record batches, so a worker process reads it by itself:

- :class:`FilePart` — a file, or some row groups of a big Parquet file;
- :class:`StreamPart` — part ``i`` of a :class:`BatchSource`, a *replayable* stream: a
  picklable ``read_part(i)`` that yields the same batches each time it is called (a seeded
  generator, a query, a list of URLs), so that workers read parts in parallel and no input
  file is needed;
- :class:`MemoryPart` — rows already read by this process from a one-shot iterable of
  batches (an iterator cannot be shipped to a worker, only its rows can).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from engine.errors import IngestError
from engine.ingest.readers import iter_batches, split_parquet


@dataclass(frozen=True, slots=True)
class BatchSource:
    """A replayable stream of Arrow record batches, in ``parts`` independent parts.

    ``read_part(i)`` (``0 <= i < parts``) must yield the same rows on every call, with the
    same columns in every part, and be picklable (a module-level function or a
    ``functools.partial`` of one) when the ingest uses more than one worker.

    Examples
    --------
    >>> import functools
    >>> from engine.ingest.synthetic import synthetic_part
    >>> source = BatchSource(functools.partial(synthetic_part, rows=10, part_rows=4, seed=1),
    ...                      parts=3, nrows=10)
    >>> sum(b.num_rows for i in range(source.parts) for b in source.read_part(i))
    10
    """

    read_part: Callable[[int], Iterable[pa.RecordBatch | pa.Table]]
    parts: int
    nrows: int | None = None
    """Total rows when known: sizes the progress bar and the disk-space estimate."""
    name: str = "batch stream"
    """Names the stream in error messages (``batch stream part 3: column 'dec' ...``)."""

    def __post_init__(self) -> None:
        if self.parts < 1:
            raise IngestError(f"A batch source needs at least one part, not {self.parts}.")


def as_batches(items: Iterable[pa.RecordBatch | pa.Table], label: str
               ) -> Iterator[pa.RecordBatch]:
    """Yield record batches from batches or tables; anything else is an error naming it."""
    for item in items:
        if isinstance(item, pa.RecordBatch):
            yield item
        elif isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            raise IngestError(f"{label}: yielded a {type(item).__name__}; an ingest stream "
                              "must yield pyarrow RecordBatch or Table objects.")


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file, or the row groups ``row_groups`` of a Parquet file."""

    path: str
    input_index: int
    """Index of the file among the ingest's inputs (row provenance of the id index)."""
    row_offset: int = 0
    """Rows of the file before this part's first row (row numbers in errors)."""
    row_groups: tuple[int, ...] | None = None
    hash_input: bool = False
    """Compute the file's sha256 (a new input; not a published partition re-read)."""

    @property
    def label(self) -> str:
        """The file's name, as errors give it."""
        return self.path

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """Yield this part's rows."""
        return iter_batches(self.path, columns, self.row_groups)


@dataclass(frozen=True, slots=True)
class StreamPart:
    """Part ``index`` of a :class:`BatchSource`."""

    source: BatchSource
    index: int
    input_index: int
    row_offset: int = 0
    hash_input: bool = False

    @property
    def label(self) -> str:
        """``<stream name> part <index>``, as errors give it."""
        return f"{self.source.name} part {self.index}"

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """Yield this part's rows (the columns ``columns``, in that order)."""
        for batch in as_batches(self.source.read_part(self.index), self.label):
            yield _select(batch, columns, self.label)


@dataclass(frozen=True, slots=True)
class MemoryPart:
    """Rows of a one-shot stream, read by the ingesting process and shipped to a worker."""

    table: pa.Table
    name: str
    input_index: int
    row_offset: int
    hash_input: bool = False

    @property
    def label(self) -> str:
        """The stream's name, as errors give it (rows count from the stream's start)."""
        return self.name

    def batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """Yield this part's rows."""
        for batch in self.table.to_batches():
            yield _select(batch, columns, self.label)


SourcePart = FilePart | StreamPart | MemoryPart


def _select(batch: pa.RecordBatch, columns: list[str], label: str) -> pa.RecordBatch:
    missing = [c for c in columns if c not in batch.schema.names]
    if missing:
        raise IngestError(f"{label}: a batch lacks column(s) {missing}; every batch of a "
                          f"stream must have the columns of the first ({', '.join(columns)}).")
    return batch.select(columns)


def file_parts(paths: Iterable[str], n_new: int, split_rows: int) -> list[FilePart]:
    """Cut files into parts: big Parquet files by row groups, of at least ``split_rows``."""
    parts = []
    for i, path in enumerate(paths):
        for k, (groups, offset) in enumerate(split_parquet(path, split_rows)):
            parts.append(FilePart(path, i, offset, groups, hash_input=i < n_new and k == 0))
    return parts


def stream_parts(source: BatchSource, input_index: int) -> list[StreamPart]:
    """One part per part of a replayable source."""
    return [StreamPart(source, i, input_index) for i in range(source.parts)]


def memory_parts(batches: Iterator[pa.RecordBatch], name: str, input_index: int,
                 part_rows: int) -> Iterator[MemoryPart]:
    """Gather a one-shot stream into parts of about ``part_rows`` rows, as it is read."""
    buffer: list[pa.RecordBatch] = []
    buffered = offset = 0
    for batch in batches:
        buffer.append(batch)
        buffered += batch.num_rows
        if buffered >= part_rows:
            yield MemoryPart(pa.Table.from_batches(buffer), name, input_index, offset)
            offset += buffered
            buffer, buffered = [], 0
    if buffer:
        yield MemoryPart(pa.Table.from_batches(buffer), name, input_index, offset)


def peek(batches: Iterable[pa.RecordBatch | pa.Table], label: str
         ) -> tuple[pa.RecordBatch, Iterator[pa.RecordBatch]]:
    """Return a stream's first non-empty batch and an iterator over all of its batches."""
    stream = as_batches(batches, label)
    skipped: list[pa.RecordBatch] = []
    for batch in stream:
        skipped.append(batch)
        if batch.num_rows:
            return batch, _chain(skipped, stream)
    if skipped:
        return skipped[0], iter(skipped)
    raise IngestError(f"{label}: the stream yielded no batches; nothing to ingest.")


def _chain(first: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]
           ) -> Iterator[pa.RecordBatch]:
    yield from first
    yield from rest
