"""Errors the engine raises on purpose: whose fault it is and whether a retry may help."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import ClassVar


class EngineError(Exception):
    """Base for every error the engine raises on purpose."""

    transient: ClassVar[bool] = False
    """True when the same request may succeed if retried."""


class UserError(EngineError):
    """The request is wrong as written; retrying it unchanged will fail again."""


class AdqlError(UserError):
    """The query cannot be accepted as written."""


class AdqlSyntaxError(AdqlError):
    """The query text does not parse as ADQL."""

    def __init__(self, message: str, *, line: int, col: int, snippet: str = "") -> None:
        text = f"{message} at line {line}, column {col}"
        if snippet:
            text += f":\n{snippet}"
        super().__init__(text)
        self.line, self.col, self.snippet = line, col, snippet


class UnknownTableError(AdqlError):
    """A table named in the query does not exist."""


class UnknownColumnError(AdqlError):
    """A column named in the query does not exist."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        """The name as the query wrote it, when known (to point at it in the query)."""


class UnsupportedQueryError(AdqlError):
    """Valid ADQL that this engine refuses (explains why and what to do instead)."""


class QueryLimitError(UserError):
    """The query exceeded a limit (time, rows, radius larger than the margin)."""


class QueryCancelledError(EngineError):
    """The query was cancelled by its caller or by its time limit."""


class IngestError(UserError):
    """An input file cannot be ingested; names the file, row and column."""


class CatalogError(UserError):
    """A data directory or table is missing or malformed."""


class ChunkUnavailableError(EngineError):
    """A chunk's files could not be read; it may pass."""

    transient = True


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` suffix for the closest choice, or ``""``.

    Examples
    --------
    >>> suggest("dp1.objet", ["dp1.object", "dp1.source"])
    " Did you mean 'dp1.object'?"
    """
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" Did you mean '{lowered[close[0]]}'?" if close else ""
