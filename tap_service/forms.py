"""POST bodies (url-encoded and multipart) read with the service's limits enforced as they arrive.

Starlette's ``request.form()`` caps every text field at 1 MiB and the number of fields at
1,000 (so a 1,000,000-character query could not be POSTed), and spools file parts of any
size before a handler can look at them. Here the limits are the service's own, counted while
the body streams in: reading stops at the first byte over a limit and the client is told
which limit it was (413 for sizes, 400 for the number of parameters).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request

from tap_service.errors import InvalidRequestError, PayloadTooLargeError

SPOOL_MAX_BYTES = 1024 * 1024
"""Uploaded files stay in memory up to this size, then go to a temporary file."""

BOUNDARY_OVERHEAD_BYTES = 256
"""Room for one part's boundary line and framing, used only to judge Content-Length up front."""

FORM_CONTENT_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")


@dataclass(frozen=True, slots=True)
class FormLimits:
    """What one request body may hold."""

    max_text_bytes: int
    """Every parameter but the uploaded files together (as sent, so percent-escapes count)."""
    max_fields: int
    """Parameters and files together."""
    max_upload_bytes: int
    """Uploaded file parts together."""

    def too_many_fields(self) -> InvalidRequestError:
        """The error for a request with more than ``max_fields`` parameters."""
        return InvalidRequestError(
            f"The request has more than {self.max_fields} parameters, the service's limit."
        )

    def text_too_large(self) -> PayloadTooLargeError:
        """The error for parameters over ``max_text_bytes``."""
        return PayloadTooLargeError(
            f"The request's parameters exceed the service's limit of {self.max_text_bytes} "
            "bytes (uploaded tables not counted); shorten the query."
        )

    def uploads_too_large(self) -> PayloadTooLargeError:
        """The error for uploaded files over ``max_upload_bytes``."""
        return PayloadTooLargeError(
            f"The uploaded tables exceed the service's limit of {self.max_upload_bytes} bytes; "
            "upload fewer rows or columns."
        )


@dataclass(slots=True)
class FormContent:
    """The parameters of a body in their order, and its file parts by part name."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, UploadFile] = field(default_factory=dict)


async def read_form(request: Request, limits: FormLimits) -> FormContent:
    """Read a url-encoded or multipart body; other bodies carry no parameters.

    Raises
    ------
    PayloadTooLargeError
        The body's parameters or files exceed their limit (read no further than that).
    InvalidRequestError
        Too many parameters, or a malformed multipart body.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type not in FORM_CONTENT_TYPES:
        return FormContent()
    _check_declared_length(request, limits, multipart=content_type == FORM_CONTENT_TYPES[1])
    if content_type == FORM_CONTENT_TYPES[0]:
        return await _read_urlencoded(request, limits)
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidRequestError("The multipart/form-data body has no boundary parameter.")
    charset = _charset(options.get(b"charset", b"utf-8"))
    return await _MultipartReader(limits, charset).read(request, boundary)


def _check_declared_length(request: Request, limits: FormLimits, *, multipart: bool) -> None:
    """Refuse at once a body whose Content-Length is over every limit together."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return
    if not multipart:
        if int(declared) > limits.max_text_bytes:
            raise limits.text_too_large()
        return
    most = (limits.max_text_bytes + limits.max_upload_bytes
            + limits.max_fields * BOUNDARY_OVERHEAD_BYTES)
    if int(declared) > most:
        raise PayloadTooLargeError(
            f"The request body of {declared} bytes exceeds the service's limits: "
            f"{limits.max_upload_bytes} bytes of uploaded tables and {limits.max_text_bytes} "
            "bytes of other parameters."
        )


async def _read_urlencoded(request: Request, limits: FormLimits) -> FormContent:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limits.max_text_bytes:
            raise limits.text_too_large()
    if body.count(b"&") >= limits.max_fields:
        raise limits.too_many_fields()
    text = body.decode("utf-8", errors="replace")
    pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    return FormContent(fields=pairs)


def _charset(value: bytes | str) -> str:
    name = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


class _MultipartReader:
    """python-multipart callbacks that count every byte against the limits as it comes."""

    def __init__(self, limits: FormLimits, charset: str) -> None:
        self.limits = limits
        self.charset = charset
        self.content = FormContent()
        self.text_bytes = 0
        self.upload_bytes = 0
        self.parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: list[tuple[bytes, bytes]] = []
        self._name = ""
        self._text: bytearray | None = None
        self._file: UploadFile | None = None
        self._opened: list[UploadFile] = []
        self._to_write: list[tuple[UploadFile, bytes]] = []

    async def read(self, request: Request, boundary: bytes | str) -> FormContent:
        callbacks = {
            "on_part_begin": self._part_begin, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                await self._flush()
            parser.finalize()
            await self._flush()
            for upload in self.content.files.values():
                await upload.seek(0)
        except FormParserError as exc:
            self._close_all()
            raise InvalidRequestError(f"The multipart/form-data body is malformed: {exc}") from exc
        except BaseException:
            self._close_all()
            raise
        return self.content

    async def _flush(self) -> None:
        for upload, data in self._to_write:
            await upload.write(data)
        self._to_write.clear()

    def _close_all(self) -> None:
        for upload in self._opened:
            upload.file.close()

    def _count_text(self, size: int) -> None:
        self.text_bytes += size
        if self.text_bytes > self.limits.max_text_bytes:
            raise self.limits.text_too_large()

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.limits.max_fields:
            raise self.limits.too_many_fields()
        self._headers = []
        self._text = None
        self._file = None

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._count_text(end - start)
        self._header_field.extend(data[start:end])

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._count_text(end - start)
        self._header_value.extend(data[start:end])

    def _header_end(self) -> None:
        self._headers.append((bytes(self._header_field).lower(), bytes(self._header_value)))
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition = dict(self._headers).get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if name is None:
            raise InvalidRequestError(
                "A multipart part has no name in its Content-Disposition header."
            )
        self._name = name.decode(self.charset, errors="replace")
        filename = options.get(b"filename")
        if filename is None:
            self._text = bytearray()
            return
        spool = SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - closed on error or when dropped
        self._file = UploadFile(
            spool,  # type: ignore[arg-type]  # a binary file, as Starlette's own parser passes
            filename=filename.decode(self.charset, errors="replace"),
            headers=Headers(raw=self._headers),
        )
        self._opened.append(self._file)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self.upload_bytes += end - start
            if self.upload_bytes > self.limits.max_upload_bytes:
                raise self.limits.uploads_too_large()
            self._to_write.append((self._file, data[start:end]))
        elif self._text is not None:
            self._count_text(end - start)
            self._text.extend(data[start:end])

    def _part_end(self) -> None:
        if self._file is not None:
            self.content.files[self._name] = self._file
        elif self._text is not None:
            self.content.fields.append((self._name, self._text.decode(self.charset,
                                                                      errors="replace")))
