"""UPLOAD=name,http(s)://…: fetch a client's table from a public address, bounded in size and time.

TAP 1.1 makes URL uploads mandatory for a service that takes uploads, and they make the
service fetch what a client names. So the host is resolved here and every address it has
must be public (not loopback, private, link-local or reserved) unless the operator says the
network holds nothing to protect; a plain-http request then goes to the checked address,
so that a second DNS answer cannot point it elsewhere (with https, the certificate check
does that). Redirects are not followed: each one would need the same checks.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from tap_service.errors import PayloadTooLargeError, UploadError

FETCH_TIMEOUT_S = 30.0
"""Longest wait for the other server at each step (connect, each read)."""


async def fetch_upload(url: str, name: str, *, max_bytes: int, allow_private: bool) -> bytes:
    """Return the bytes at ``url``.

    Raises
    ------
    UploadError
        The URL is malformed, its host unknown or not public, or fetching it failed.
    PayloadTooLargeError
        It holds more than ``max_bytes`` (the transfer stops there).
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise UploadError(f"UPLOAD '{name}': invalid URL '{url}': {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UploadError(f"UPLOAD '{name}': '{url}' is not an http(s) URL with a host.")
    address = await _checked_address(parsed, name, allow_private=allow_private)
    target, headers = parsed, {}
    if parsed.scheme == "http":
        target = parsed.copy_with(host=address)
        headers["Host"] = parsed.netloc.decode("ascii")
    try:
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False,
                                     trust_env=False) as client, \
                client.stream("GET", target, headers=headers) as response:
            if response.status_code != 200:
                where = response.headers.get("location")
                hint = f" (a redirect to {where}: give that URL)" if where else ""
                raise UploadError(
                    f"UPLOAD '{name}': {url} answered HTTP {response.status_code}{hint}."
                )
            return await _read_bounded(response, url, name, max_bytes)
    except httpx.HTTPError as exc:
        raise UploadError(f"UPLOAD '{name}': fetching {url} failed: {exc}") from exc


async def _read_bounded(response: httpx.Response, url: str, name: str, max_bytes: int) -> bytes:
    chunks = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(
                f"Uploaded table '{name}' at {url} exceeds the service's limit of "
                f"{max_bytes} bytes."
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _checked_address(url: httpx.URL, name: str, *, allow_private: bool) -> str:
    """Resolve the host and return an address to connect to, once every address is allowed."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(url.host, port,
                                                             type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UploadError(f"UPLOAD '{name}': cannot resolve the host '{url.host}': {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    refused = [str(a) for a in addresses if not a.is_global]
    if refused and not allow_private:
        raise UploadError(
            f"UPLOAD '{name}': the host '{url.host}' has the non-public address "
            f"{', '.join(sorted(set(refused)))}; this service fetches uploads from public "
            "addresses only (send the table inline, as UPLOAD=name,param:part)."
        )
    return str(addresses[0])
