"""The FastAPI application: ``create_app(settings)`` mounts the TAP service under /tap."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tap_service.admission import AdmissionGate, cpu_share, default_slots
from tap_service.auth import TokenAuth
from tap_service.config import TapSettings
from tap_service.context import TapContext
from tap_service.errors import MethodNotAllowedError, NotFoundError, error_response
from tap_service.handlers import sync, uws, vosi
from tap_service.params import close_request_params
from tap_service.uws.runner import JobRunner
from tap_service.uws.store import JobStore

if TYPE_CHECKING:
    from engine.api import Engine

log = logging.getLogger("tap_service")


def open_engine(settings: TapSettings) -> Engine:
    """Open the engine once for the life of the service."""
    import dataclasses

    from engine.api import Engine, EngineOptions

    options = EngineOptions()
    if settings.engine_threads or settings.processes > 1:
        threads = settings.engine_threads or cpu_share(settings.processes)
        options = dataclasses.replace(options, workers=threads)
    if settings.dask_address:
        options = dataclasses.replace(options, dask_address=settings.dask_address)
    options = dataclasses.replace(options, spill_dir=settings.resolved_work_dir / "spill")
    if settings.query_memory_mb:
        options = dataclasses.replace(options, memory_limit_bytes=settings.query_memory_mb << 20)
    return Engine.open(settings.data_dir, options)


def memory_share_mb(processes: int) -> int:
    """The query memory budget of each of ``processes`` service processes that share the
    default budget (a quarter of the machine's memory), in MiB."""
    from engine.api import default_memory_budget

    return max(16, (default_memory_budget() >> 20) // processes)


def create_app(settings: TapSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Return the TAP application; the engine is opened here unless one is given."""
    settings = settings or TapSettings()  # type: ignore[call-arg]
    own_engine = engine is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        eng = engine if engine is not None else open_engine(settings)
        store = JobStore(settings.resolved_jobs_db)
        runner = JobRunner(store, eng, settings)
        gate = AdmissionGate(settings.sync_slots or default_slots(settings.processes),
                             settings.sync_queue_patience.total_seconds())
        app.state.tap = TapContext(settings=settings, engine=eng, store=store, runner=runner,
                                   auth=TokenAuth.from_file(settings.tokens_file),
                                   sync_gate=gate)
        runner.start()
        try:
            yield
        finally:
            runner.stop()
            store.close()
            if own_engine:
                eng.close()

    app = FastAPI(title="qserv-access TAP", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    for module in (sync, uws, vosi):
        app.include_router(module.router, prefix="/tap")

    app.add_exception_handler(HTTPException, _routing_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _routing_error)  # type: ignore[arg-type]
    app.add_middleware(ErrorDocumentMiddleware)

    @app.get("/")
    async def _root() -> RedirectResponse:
        return RedirectResponse("/tap", status_code=303)

    return app


ENDPOINTS = ("sync", "async", "capabilities", "availability", "tables", "examples")


async def _routing_error(request: Request, exc: Exception) -> Response:
    """Answer an unknown path or a wrong method as a TAP service does, with an error document."""
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        listed = ", ".join(f"/tap/{name}" for name in ENDPOINTS)
        exc = NotFoundError(f"No resource at {request.url.path}; this TAP service answers "
                            f"{listed} and the jobs under /tap/async.")
    elif isinstance(exc, HTTPException) and exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        exc = MethodNotAllowedError(
            f"{request.method} is not allowed on {request.url.path}; use {allowed}.",
            headers={"Allow": allowed},
        )
    return error_response(exc)


class ErrorDocumentMiddleware:
    """The service's one exception handler: whatever a handler raises becomes an error document.

    Handlers raise; :func:`tap_service.errors.error_response` chooses the status and the message
    (and logs the unexpected with an error id). A plain ASGI middleware rather than an
    ``exception_handler(Exception)``, which Starlette calls and then raises again to the server.
    Once the request is answered, however, it also closes the files uploaded with it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except ClientDisconnect:
            log.info("client disconnected from %s before its request was read", scope["path"])
        except Exception as exc:
            if started:  # the status is sent: nothing to do but end the response
                raise
            await error_response(exc)(scope, receive, send)
        finally:
            close_request_params(scope)
