"""The synchronous query endpoint."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from tap_service.admission import Admission
from tap_service.context import get_context
from tap_service.errors import ServiceBusyError
from tap_service.params import parse_query_request, read_params
from tap_service.query import StartedQuery, start_query
from tap_service.uploads import read_uploads

router = APIRouter()
log = logging.getLogger("tap_service.sync")
T = TypeVar("T")


@router.api_route("/sync", methods=["GET", "POST"])
async def sync_query(request: Request) -> Response:
    """Run a query in its turn (see tap_service.admission) and stream its result.

    Errors become DALI documents in app.py. The time limit counts from the request's
    arrival: a query that waited its whole limit for a slot gets a 503 without running.
    """
    arrived = time.monotonic()
    ctx = get_context(request)
    settings = ctx.settings
    ctx.auth.owner(request)
    params = await read_params(request)
    query = parse_query_request(params, default_maxrec=settings.default_maxrec,
                                hard_maxrec=settings.hard_maxrec)
    uploads = await read_uploads(
        params, query.upload, max_bytes=settings.upload_max_bytes,
        max_rows=settings.upload_max_rows, allow_urls=settings.upload_allow_urls,
        allow_private_urls=settings.upload_allow_private_urls,
    )
    cancel = threading.Event()
    admitted: list[Admission] = []

    async def in_turn() -> StartedQuery:
        limit_s = settings.sync_timeout.total_seconds()
        async with ctx.sync_gate.admitted() as admission:
            left_s = limit_s - (time.monotonic() - arrived)
            if left_s <= 0:
                raise ServiceBusyError(
                    f"The service is busy: this query waited {admission.waited_s:.1f} s for "
                    f"its turn, past its time limit of {limit_s:g} s, and was not run. Retry "
                    "later, or submit it to /async, where jobs are queued without this limit.")
            admitted.append(admission)
            return await run_in_threadpool(start_query, ctx.engine, query, uploads,
                                           timeout_s=left_s, cancel=cancel, prefetch=True)

    started = await _until_disconnect(request, cancel, in_turn(), queued=lambda: not admitted)
    if started is None:
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    if started.body is not None:
        return Response(started.body, media_type=started.fmt.mime)
    return _CancellingStream(started.chunks, cancel, media_type=started.fmt.mime)


CLIENT_CLOSED_REQUEST = 499
"""The status (nginx's) of a request whose client hung up while it waited: nobody reads it."""


async def _until_disconnect(request: Request, cancel: threading.Event, work: Awaitable[T],
                            *, queued: Callable[[], bool]) -> T | None:
    """Await ``work``; if the client hangs up first, set ``cancel`` so that the query stops.

    While ``queued()`` (waiting for a slot, nothing running yet) the hang-up cancels
    ``work`` itself, which leaves the queue; the result is then None.
    """
    gone: list[float] = []
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass  # the rest of a body nobody reads: only the disconnect matters
        gone.append(time.monotonic())
        cancel.set()
        if queued():
            task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if gone and task.cancelled() and not (current and current.cancelling()):
            log.warning("sync query left the queue: its client disconnected before its turn")
            return None
        raise
    finally:
        watcher.cancel()
        if gone and not task.cancelled():
            log.warning("sync query stopped %.2f s after its client disconnected",
                        time.monotonic() - gone[0])


class _CancellingStream(StreamingResponse):
    """A streamed result whose query is cancelled however the response ends.

    Starlette stops sending when the client disconnects; setting ``cancel`` then also stops
    the engine instead of leaving the query to its time limit.
    """

    def __init__(self, chunks: Iterator[bytes], cancel: threading.Event, *,
                 media_type: str) -> None:
        super().__init__(chunks, media_type=media_type)
        self._cancel = cancel
        self._complete = False

    async def stream_response(self, send: Send) -> None:
        """Send the chunks, noting whether the last one went out."""
        await super().stream_response(send)
        self._complete = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._cancel.set()
            if not self._complete:
                log.warning("sync result stream stopped before its end: its client "
                            "disconnected")
