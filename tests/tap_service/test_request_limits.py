"""Request bodies: the documented limits are reachable, and what is over them is refused early.

The streaming tests send bodies from a generator that counts what the service pulled, so
they measure how much of an oversized body was read before the service answered.
"""

import io

import pytest
from astropy.io.votable import parse

from tests.tap_service.test_service import service

pytestmark = pytest.mark.asyncio
MAX_QUERY_CHARS = 1_000_000
"""The engine's documented limit on the length of an ADQL query."""
CHUNK = 64 * 1024
BOUNDARY = "qsa-test-boundary"


def longest_query(filler):
    """A query of exactly MAX_QUERY_CHARS characters, padded with an ADQL comment."""
    head = "SELECT COUNT(*) AS n FROM sky.objects\n-- "
    return head + filler * (MAX_QUERY_CHARS - len(head))


def _message(response):
    infos = parse(io.BytesIO(response.content)).resources[0].infos
    return next(i.content for i in infos if i.name == "QUERY_STATUS")


def _count(response):
    table = parse(io.BytesIO(response.content)).get_first_table().to_table()
    return int(table["n"][0])


class CountingBody:
    """An async body of ``total`` bytes after ``head``, remembering how much was pulled."""

    def __init__(self, head, total, line=b"1,2\n"):
        self.head, self.total, self.line = head, total, line
        self.pulled = 0

    async def __aiter__(self):
        self.pulled += len(self.head)
        yield self.head
        chunk = self.line * (CHUNK // len(self.line))
        sent = 0
        while sent < self.total:
            self.pulled += len(chunk)
            sent += len(chunk)
            yield chunk


def _multipart_head(fields, file_part):
    lines = []
    for name, value in fields.items():
        lines += [f"--{BOUNDARY}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines += [f"--{BOUNDARY}",
              f'Content-Disposition: form-data; name="{file_part}"; filename="t.csv"',
              "Content-Type: text/csv", "", "a,b"]
    return ("\r\n".join(lines) + "\n").encode()


async def test_a_query_of_the_documented_length_can_be_posted_as_a_form(tap_engine, tmp_path):
    # Every character of the padding is percent-escaped UTF-8: 6 bytes each, ~6 MB in all,
    # over Starlette's default 1 MiB per field.
    query = longest_query("é")
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query})
        assert r.status_code == 200, r.text[:500]
        assert _count(r) > 0
        r = await client.post("/tap/sync", data={"LANG": "ADQL", "QUERY": query + "é"})
    assert r.status_code == 400
    assert f"the limit is {MAX_QUERY_CHARS}" in _message(r)


async def test_a_query_of_the_documented_length_can_be_posted_as_multipart(tap_engine, tmp_path):
    query = longest_query("x")
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/sync", files={"LANG": (None, "ADQL"), "QUERY": (None, query)})
    assert r.status_code == 200, r.text[:500]
    assert _count(r) > 0


@pytest.mark.parametrize("multipart", [False, True])
async def test_too_many_parameters_is_a_400_naming_the_limit(tap_engine, tmp_path, multipart):
    fields = {f"X{i}": "1" for i in range(1000)} | {"LANG": "ADQL", "QUERY": "SELECT 1"}
    async with service(tap_engine, tmp_path) as client:
        if multipart:
            r = await client.post("/tap/sync", files={k: (None, v) for k, v in fields.items()})
        else:
            r = await client.post("/tap/sync", data=fields)
    assert r.status_code == 400
    assert "more than 1000 parameters" in _message(r)


async def test_more_parameters_are_accepted_when_the_limit_is_raised(tap_engine, tmp_path):
    fields = {f"X{i}": "1" for i in range(1500)} | {
        "LANG": "ADQL", "QUERY": "SELECT COUNT(*) AS n FROM sky.objects"}
    async with service(tap_engine, tmp_path, form_max_fields=2000) as client:
        r = await client.post("/tap/sync", data=fields)
    assert r.status_code == 200, r.text[:500]


async def test_an_oversized_upload_is_refused_while_it_streams(tap_engine, tmp_path):
    limit = 1_000_000
    head = _multipart_head({"LANG": "ADQL", "UPLOAD": "t,param:f",
                            "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t"}, "f")
    body = CountingBody(head, total=200 * 1024 * 1024)  # no Content-Length: chunked
    async with service(tap_engine, tmp_path, upload_max_bytes=limit) as client:
        r = await client.post("/tap/sync", content=body, headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert r.status_code == 413
    assert f"limit of {limit} bytes" in _message(r)
    # Reading stopped within a chunk of the limit, not after the 200 MiB.
    assert body.pulled <= len(head) + limit + CHUNK


async def test_an_upload_within_the_limit_is_read_whole(tap_engine, tmp_path):
    head = _multipart_head({"LANG": "ADQL", "UPLOAD": "t,param:f",
                            "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t"}, "f")
    body = CountingBody(head, total=8 * CHUNK)
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    async def whole():
        async for chunk in body:
            yield chunk
        yield tail

    async with service(tap_engine, tmp_path, upload_max_bytes=1_000_000) as client:
        r = await client.post("/tap/sync", content=whole(), headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert r.status_code == 200, r.text[:500]
    assert _count(r) == 8 * (CHUNK // 4)


async def test_a_declared_length_over_the_limits_is_refused_before_reading(tap_engine, tmp_path):
    head = _multipart_head({"LANG": "ADQL", "UPLOAD": "t,param:f",
                            "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t"}, "f")
    total = 500 * 1024 * 1024
    body = CountingBody(head, total=total)
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/sync", content=body, headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Length": str(len(head) + total)})
    assert r.status_code == 413
    assert "20000000 bytes of uploaded tables" in _message(r)
    assert body.pulled == 0


async def test_oversized_form_parameters_are_refused_while_they_stream(tap_engine, tmp_path):
    limit = 64 * 1024
    body = CountingBody(b"LANG=ADQL&QUERY=SELECT", total=50 * 1024 * 1024, line=b"+")
    async with service(tap_engine, tmp_path, form_max_bytes=limit) as client:
        r = await client.post("/tap/sync", content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert f"limit of {limit} bytes" in _message(r)
    assert body.pulled <= limit + CHUNK + 64


@pytest.mark.parametrize(("content_type", "body", "message"), [
    ("multipart/form-data", b"--x\r\n", "has no boundary"),
    (f"multipart/form-data; boundary={BOUNDARY}",
     f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nADQL\r\n--{BOUNDARY}--\r\n".encode(),
     "A multipart part has no name"),
    (f"multipart/form-data; boundary={BOUNDARY}", b"garbage without any boundary", "malformed"),
])
async def test_malformed_multipart_bodies_are_400_documents(tap_engine, tmp_path, content_type,
                                                            body, message):
    async with service(tap_engine, tmp_path) as client:
        r = await client.post("/tap/sync", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 400
    assert message in _message(r)
