"""Running one TAP query on the engine and turning its result into a byte stream."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from tap_service.formats import OutputFormat, resolve_format, stream_result
from tap_service.params import QueryRequest

if TYPE_CHECKING:
    from engine.api import Engine, QueryResult


PREFETCH_BYTES = 1 << 20
"""Results up to this size are rendered completely before the response starts: one
response body instead of a stream of chunks each crossing a thread (most queries)."""


@dataclass(slots=True)
class StartedQuery:
    """A query whose first batch is computed: errors before this point are plain exceptions."""

    fmt: OutputFormat
    result: QueryResult
    chunks: Iterator[bytes]
    body: bytes | None = None
    """The whole response when :meth:`prefetch` found the result small."""

    def prefetch(self, limit: int = PREFETCH_BYTES) -> StartedQuery:
        """Render up to ``limit`` bytes now; keep the rest as a stream if there is more."""
        parts: list[bytes] = []
        size = 0
        for chunk in self.chunks:
            parts.append(chunk)
            size += len(chunk)
            if size >= limit:
                self.chunks = itertools.chain(parts, self.chunks)
                return self
        self.body = b"".join(parts)
        return self


def start_query(
    engine: Engine,
    request: QueryRequest,
    uploads: Mapping[str, pa.Table],
    *,
    timeout_s: float | None,
    cancel: threading.Event | None,
    catch_errors: bool = True,
    prefetch: bool = False,
    on_start: Callable[[QueryResult], None] | None = None,
) -> StartedQuery:
    """Run ``request`` up to its first batch and return the stream of its formatted bytes.

    ``on_start`` gets the result as soon as its tasks are running, before the first
    batch (which may take all of a merged query's time): the async runner follows its
    progress from there.
    """
    fmt = resolve_format(request.response_format)
    result = engine.query(
        request.query, maxrec=request.maxrec, uploads=uploads or None,
        timeout_s=timeout_s, cancel=cancel,
    )
    if on_start is not None:
        on_start(result)
    batches = result.batches()
    first = next(batches, None)
    chained = itertools.chain([first] if first is not None else [], batches)
    chunks = stream_result(
        fmt, result.schema, chained, lambda: bool(result.overflow),
        infos=[("QUERY", request.query)], catch_errors=catch_errors,
    )
    started = StartedQuery(fmt=fmt, result=result, chunks=chunks)
    return started.prefetch() if prefetch else started
