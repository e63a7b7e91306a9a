"""The catalog store's write side: ingest files into HATS-partitioned tables, attach HATS.

Entry points are :func:`engine.ingest.api.ingest_files` and
:func:`engine.ingest.api.attach_hats` (imported lazily here, so ``import engine.ingest``
stays cheap).
"""

from __future__ import annotations

from typing import Any

__all__ = ["attach_hats", "ingest_files"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from engine.ingest import api

        return getattr(api, name)
    raise AttributeError(name)
