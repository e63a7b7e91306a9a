"""The FastAPI application: ``create_app(settings)`` mounts the TAP service under /tap."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.requests import Request

from tap_service.auth import TokenAuth
from tap_service.config import TapSettings
from tap_service.context import TapContext
from tap_service.errors import error_response
from tap_service.handlers import sync, uws, vosi
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
    if settings.engine_threads:
        options = dataclasses.replace(options, workers=settings.engine_threads)
    if settings.dask_address:
        options = dataclasses.replace(options, dask_address=settings.dask_address)
    return Engine.open(settings.data_dir, options)


def create_app(settings: TapSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Return the TAP application; the engine is opened here unless one is given."""
    settings = settings or TapSettings()  # type: ignore[call-arg]
    own_engine = engine is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        eng = engine if engine is not None else open_engine(settings)
        store = JobStore(settings.resolved_jobs_db)
        runner = JobRunner(store, eng, settings)
        app.state.tap = TapContext(settings=settings, engine=eng, store=store, runner=runner,
                                   auth=TokenAuth.from_file(settings.tokens_file))
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

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(exc)

    @app.get("/")
    async def _root() -> RedirectResponse:
        return RedirectResponse("/tap", status_code=303)

    return app
