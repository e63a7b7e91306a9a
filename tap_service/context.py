"""What every handler needs: settings, the engine, the job store and runner, cached documents."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from tap_service.admission import AdmissionGate
from tap_service.auth import TokenAuth
from tap_service.config import TapSettings
from tap_service.examples import examples_xhtml
from tap_service.uws.runner import JobRunner
from tap_service.uws.service import JobService
from tap_service.uws.store import JobStore
from tap_service.vosi import capabilities_xml, tableset_xml

if TYPE_CHECKING:
    from engine.api import Engine
    from engine.catalog import TableManifest

DOCUMENT_TTL_S = 5.0
"""How long the tables and examples documents are reused before the engine is asked again
(a newly ingested table shows up within this delay)."""


@dataclass
class TapContext:
    """State shared by the handlers of one service instance."""

    settings: TapSettings
    engine: Engine
    store: JobStore
    runner: JobRunner
    auth: TokenAuth
    sync_gate: AdmissionGate
    """Admits synchronous queries a few at a time, in arrival order."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _docs: dict[str, tuple[float, str]] = field(default_factory=dict)
    _tables: tuple[float, list[TableManifest]] | None = None
    jobs: JobService = field(init=False)
    """The UWS job logic the /async handlers call."""

    def __post_init__(self) -> None:
        self.jobs = JobService(self.store, self.runner, self.settings, private=self.auth.enabled)

    def base_url(self, request: Request) -> str:
        """Public URL of the TAP service (…/tap)."""
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        return str(request.base_url).rstrip("/") + "/tap"

    def manifests(self) -> list[TableManifest]:
        """The engine's published tables, reused for a few seconds."""
        now = time.monotonic()
        with self._lock:
            if self._tables is not None and now - self._tables[0] < DOCUMENT_TTL_S:
                return self._tables[1]
        tables = sorted(self.engine.tables(), key=lambda m: m.name)
        with self._lock:
            self._tables = (now, tables)
        return tables

    def _cached(self, key: str, build: object) -> str:
        now = time.monotonic()
        with self._lock:
            hit = self._docs.get(key)
            if hit is not None and now - hit[0] < DOCUMENT_TTL_S:
                return hit[1]
        text = build()  # type: ignore[operator]
        with self._lock:
            self._docs[key] = (now, text)
        return str(text)

    def capabilities(self, base_url: str) -> str:
        """The capabilities document for this base URL."""
        return self._cached("cap:" + base_url, lambda: capabilities_xml(self.settings, base_url))

    def tableset(self, *, detail: bool) -> str:
        """The VOSI tableset document."""
        return self._cached(f"tables:{detail}",
                            lambda: tableset_xml(self.manifests(), detail=detail))

    def examples(self) -> str:
        """The DALI examples document."""
        return self._cached("examples", lambda: examples_xhtml(self.manifests()))


def get_context(request: Request) -> TapContext:
    """Return the context stored on the application."""
    ctx: TapContext = request.app.state.tap
    return ctx
