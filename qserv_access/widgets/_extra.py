"""Import an optional dependency or say which extra provides it."""

from __future__ import annotations

import importlib
from types import ModuleType

from qserv_access.errors import MissingExtraError


def require(module: str, purpose: str) -> ModuleType:
    """Return ``module`` imported, or raise an ImportError naming the ``notebook`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"{purpose} need {top}: pip install 'qserv-access[notebook]'") from exc
