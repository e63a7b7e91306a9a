"""Who is calling: anonymous, or the owner named by a bearer token from the token file."""

from __future__ import annotations

import hmac
from pathlib import Path

from starlette.requests import Request

from tap_service.errors import AuthenticationError

ANONYMOUS = "anonymous"


class TokenAuth:
    """Maps bearer tokens to owners; with no token file everyone is anonymous."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self._tokens = dict(tokens or {})

    @property
    def enabled(self) -> bool:
        """True when requests must carry a known bearer token."""
        return bool(self._tokens)

    @classmethod
    def from_file(cls, path: Path | None) -> TokenAuth:
        """Read ``token owner`` lines (``#`` starts a comment)."""
        if path is None:
            return cls()
        tokens: dict[str, str] = {}
        for number, line in enumerate(Path(path).read_text().splitlines(), 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split()
            if len(parts) != 2:
                raise ValueError(f"{path}:{number}: expected 'TOKEN OWNER', got {len(parts)} words")
            tokens[parts[0]] = parts[1]
        if not tokens:
            raise ValueError(f"{path} defines no token; remove the option to allow anonymous use")
        return cls(tokens)

    def owner(self, request: Request) -> str:
        """Return the caller's owner id, or raise when a token is required and missing/unknown."""
        if not self._tokens:
            return ANONYMOUS
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("This service needs 'Authorization: Bearer <token>'.")
        token = token.strip()
        found = None
        for known, owner in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = owner
        if found is None:
            raise AuthenticationError("Unknown bearer token.")
        return found
