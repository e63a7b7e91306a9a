"""The synchronous query endpoint."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tap_service.context import get_context
from tap_service.params import parse_query_request, read_params
from tap_service.query import start_query
from tap_service.uploads import read_uploads

router = APIRouter()


@router.api_route("/sync", methods=["GET", "POST"])
async def sync_query(request: Request) -> Response:
    """Run a query and stream its result (errors become DALI documents in app.py)."""
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
    started = await run_in_threadpool(
        start_query, ctx.engine, query, uploads,
        timeout_s=settings.sync_timeout.total_seconds(), cancel=None, prefetch=True,
    )
    if started.body is not None:
        return Response(started.body, media_type=started.fmt.mime)
    return StreamingResponse(started.chunks, media_type=started.fmt.mime)
