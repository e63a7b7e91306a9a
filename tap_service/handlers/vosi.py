"""VOSI endpoints and the DALI examples."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from tap_service.context import get_context
from tap_service.errors import NotFoundError
from tap_service.vosi import availability_xml, table_xml, tap_schema_manifests

router = APIRouter()
XML = "text/xml"


@router.get("/capabilities")
async def capabilities(request: Request) -> Response:
    """VOSI capabilities."""
    ctx = get_context(request)
    return Response(ctx.capabilities(ctx.base_url(request)), media_type=XML)


@router.get("/availability")
async def availability(request: Request) -> Response:
    """VOSI availability: up when the engine answers for its tables."""
    ctx = get_context(request)
    try:
        tables = await run_in_threadpool(ctx.manifests)
        ok, note = True, f"service is accepting queries on {len(tables)} tables"
    except Exception as exc:  # noqa: BLE001 - boundary: reported as unavailable
        ok, note = False, f"engine unavailable: {exc}"
    return Response(availability_xml(ok, note), media_type=XML)


@router.get("/tables")
async def tables(request: Request) -> Response:
    """VOSI tableset (``detail=min`` leaves out the columns)."""
    ctx = get_context(request)
    detail = request.query_params.get("detail", "max").lower() != "min"
    text = await run_in_threadpool(ctx.tableset, detail=detail)
    return Response(text, media_type=XML)


@router.get("/tables/{name}")
async def one_table(request: Request, name: str) -> Response:
    """VOSI 1.1 single table document."""
    ctx = get_context(request)
    manifests = await run_in_threadpool(ctx.manifests)
    everything = {m.name.lower(): m for m in [*manifests, *tap_schema_manifests()]}
    manifest = everything.get(name.lower())
    if manifest is None:
        raise NotFoundError(f"No table '{name}'; see {ctx.base_url(request)}/tables for the list.")
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n'
                    + table_xml(manifest, everything, root=True) + "\n", media_type=XML)


@router.get("/examples")
async def examples(request: Request) -> Response:
    """DALI examples (XHTML+RDFa)."""
    ctx = get_context(request)
    text = await run_in_threadpool(ctx.examples)
    return Response(text, media_type="application/xhtml+xml")


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    """A short page pointing at the endpoints."""
    base = get_context(request).base_url(request)
    links = "".join(f'<li><a href="{base}/{p}">{p}</a></li>'
                    for p in ("capabilities", "availability", "tables", "examples", "async"))
    return Response(f"<html><body><h1>TAP service</h1><ul>{links}</ul></body></html>",
                    media_type="text/html")
