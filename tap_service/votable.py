"""Streaming VOTable 1.4 writer (BINARY2 and TABLEDATA) from Arrow record batches.

astropy's writer needs the whole table in memory; this one encodes each batch with
numpy (one scatter per column, no Python loop per row) and yields bytes as it goes.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.tap_schema import votable_type

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
"""VOTable 1.3, 1.4 and 1.5 share this namespace."""

_NUMPY_BE = {
    "unsignedByte": ">u1",
    "short": ">i2",
    "int": ">i4",
    "long": ">i8",
    "float": ">f4",
    "double": ">f8",
}
_ARROW_OF = {
    "unsignedByte": pa.uint8(),
    "short": pa.int16(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
}


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What a VOTable FIELD (and the other formats' headers) says about a column."""

    name: str
    datatype: str
    arraysize: str | None = None
    unit: str = ""
    ucd: str = ""
    xtype: str | None = None
    description: str = ""
    utype: str = ""
    precision: str | None = None
    """Display hint: decimals to show (astropy formats the column with it)."""


POSITION_PRECISION = "7"
"""Decimals shown of a floating-point column in degrees (0.4 mas): readers such as astropy
show float64 positions with 17 digits otherwise. The values themselves are not rounded."""


def _meta(field: pa.Field, key: str) -> str:
    raw = (field.metadata or {}).get(key.encode())
    return raw.decode() if raw else ""


def fields_from_schema(schema: pa.Schema) -> list[FieldInfo]:
    """Return the FIELD description of every column of an Arrow schema."""
    out = []
    for field in schema:
        xtype = _meta(field, "xtype") or None
        datatype, arraysize, xtype = votable_type(str(field.type), xtype)
        unit = _meta(field, "unit")
        precision = (POSITION_PRECISION if unit == "deg" and not arraysize
                     and datatype in ("double", "float") else None)
        out.append(FieldInfo(
            name=field.name, datatype=datatype, arraysize=arraysize, unit=unit,
            ucd=_meta(field, "ucd"), xtype=xtype, description=_meta(field, "description"),
            precision=precision,
        ))
    return out


def field_xml(f: FieldInfo, tag: str = "FIELD") -> str:
    """Return the FIELD element for a column."""
    attrs = [f"name={quoteattr(f.name)}", f'datatype="{f.datatype}"']
    if f.arraysize:
        attrs.append(f'arraysize="{f.arraysize}"')
    for key in ("unit", "ucd", "xtype", "utype", "precision"):
        value = getattr(f, key)
        if value:
            attrs.append(f"{key}={quoteattr(value)}")
    desc = f"<DESCRIPTION>{escape(f.description)}</DESCRIPTION>" if f.description else ""
    return f"<{tag} {' '.join(attrs)}>{desc}</{tag}>" if desc else f"<{tag} {' '.join(attrs)}/>"


def info_xml(name: str, value: str, text: str = "") -> str:
    """Return an INFO element."""
    body = escape(text)
    head = f"<INFO name={quoteattr(name)} value={quoteattr(value)}"
    return f"{head}>{body}</INFO>" if body else f"{head}/>"


def header_xml(fields: Sequence[FieldInfo], infos: Sequence[tuple[str, str]] = ()) -> str:
    """Return everything up to and including the FIELDs of a results VOTable."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        '<RESOURCE type="results">',
        info_xml("QUERY_STATUS", "OK"),
        *(info_xml(name, value) for name, value in infos),
        "<TABLE>",
        *(field_xml(f) for f in fields),
    ]
    return "\n".join(lines) + "\n"


def error_votable(message: str, *, status: str = "ERROR") -> str:
    """Return a DALI error document: a VOTable with QUERY_STATUS=ERROR and the message."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">\n'
        '<RESOURCE type="results">\n'
        f"{info_xml('QUERY_STATUS', status, message)}\n"
        "</RESOURCE>\n</VOTABLE>\n"
    )


# ---------------------------------------------------------------- column encoding


def _normalise(arr: pa.Array, f: FieldInfo) -> pa.Array:
    """Cast a column to the Arrow type whose bytes BINARY2 wants."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_timestamp(arr.type):
        return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_date(arr.type) or pa.types.is_decimal(arr.type):
        return arr.cast(pa.string())
    if f.datatype == "char" and not (
        pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        or pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type)
    ):
        return arr.cast(pa.string())
    return arr


def _string_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (lengths, flat utf-8 bytes) of a string or binary array."""
    if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type):
        off_type: type = np.int64
    else:
        off_type = np.int32
    bufs = arr.buffers()
    n = len(arr)
    offsets: np.ndarray = np.frombuffer(bufs[1], dtype=off_type)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    if arr.null_count:
        lengths = np.where(np.asarray(arr.is_valid()), lengths, 0)
        mask = np.repeat(np.asarray(arr.is_valid()), np.diff(offsets))
        flat = data[offsets[0] : offsets[-1]][mask]
    else:
        flat = data[offsets[0] : offsets[-1]]
    return lengths, flat


Part = tuple[int, np.ndarray, np.ndarray | None]
"""(width, bytes, None) for a fixed-width part of a column, or (0, bytes, lengths per row)."""


def _fixed(values: np.ndarray, width: int) -> Part:
    return (width, np.ascontiguousarray(values).view(np.uint8), None)


def _column_parts(arr: pa.Array, f: FieldInfo) -> list[Part]:
    """Return the byte parts of one column, in row order."""
    n = len(arr)
    if f.datatype == "char":
        lengths, flat = _string_parts(arr)
        if flat.size and int(flat.max()) >= 128:
            # BINARY2 char is ASCII for astropy and most readers: keep the row, mark
            # the characters it cannot carry (TABLEDATA keeps them exactly).
            arr = pc.replace_substring_regex(arr.cast(pa.string()), r"[^\x00-\x7f]", "?")
            lengths, flat = _string_parts(arr)
        counts = lengths.astype(">u4")
        return [_fixed(counts, 4), (0, flat, lengths)]
    if f.datatype == "boolean":
        values = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        chars = np.where(values, ord("T"), ord("F")).astype(np.uint8)
        if arr.null_count:
            chars[~np.asarray(arr.is_valid())] = ord("?")
        return [_fixed(chars, 1)]
    be = np.dtype(_NUMPY_BE[f.datatype])
    kind = arr.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        if pa.types.is_fixed_size_list(arr.type):
            size = arr.type.list_size
            values = arr.flatten() if not arr.null_count else pc.list_flatten(arr.fill_null(
                pa.scalar([None] * size, arr.type)))
            flat = _numeric(values, f.datatype, be)
            return [_fixed(flat.reshape(n, size), size * be.itemsize)]
        lengths = np.asarray(pc.list_value_length(arr).fill_null(0), dtype=np.int64)
        flat = _numeric(pc.list_flatten(arr), f.datatype, be)
        return [_fixed(lengths.astype(">u4"), 4), (0, flat.view(np.uint8),
                                                    lengths * be.itemsize)]
    return [_fixed(_numeric(arr, f.datatype, be), be.itemsize)]


def _numeric(arr: pa.Array, datatype: str, be: np.dtype) -> np.ndarray:
    target = _ARROW_OF[datatype]
    if arr.type != target:
        arr = arr.cast(target, safe=False)
    if arr.null_count:
        fill = float("nan") if datatype in ("float", "double") else 0
        arr = arr.fill_null(pa.scalar(fill, target))
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=be)


def encode_binary2(batch: pa.RecordBatch, fields: Sequence[FieldInfo]) -> bytes:
    """Return the BINARY2 bytes of the rows of one batch (before base64)."""
    n = batch.num_rows
    if n == 0:
        return b""
    ncols = len(fields)
    mask_bytes = (ncols + 7) // 8
    nulls = np.zeros((n, mask_bytes * 8), dtype=bool)
    parts: list[Part] = []
    for i, f in enumerate(fields):
        arr = _normalise(batch.column(i), f)
        if arr.null_count:
            nulls[:, i] = ~np.asarray(arr.is_valid())
        parts.extend(_column_parts(arr, f))
    mask = np.packbits(nulls, axis=1, bitorder="big")
    if all(lengths is None for _, _, lengths in parts):
        return _fixed_rows(mask, parts)
    return _scattered_rows(mask, parts)


def _fixed_rows(mask: np.ndarray, parts: list[Part]) -> bytes:
    """Rows of one length (no text or variable array): each part fills a block of columns
    of an (n, row length) array."""
    n, pos = mask.shape
    out = np.empty((n, pos + sum(width for width, _, _ in parts)), dtype=np.uint8)
    out[:, :pos] = mask
    for width, data, _ in parts:
        out[:, pos : pos + width] = data.reshape(n, width)
        pos += width
    return out.tobytes()


def _scattered_rows(mask: np.ndarray, parts: list[Part]) -> bytes:
    """Rows of varying length: every part is scattered to its offsets in each row."""
    n, mask_bytes = mask.shape
    row_len = np.full(n, mask_bytes, dtype=np.int64)
    for width, _, lengths in parts:
        row_len += width if lengths is None else lengths
    row_start = np.zeros(n, dtype=np.int64)
    np.cumsum(row_len[:-1], out=row_start[1:])
    out = np.empty(int(row_start[-1] + row_len[-1]), dtype=np.uint8)
    pos = row_start.copy()
    out[(pos[:, None] + np.arange(mask_bytes)).ravel()] = mask.ravel()
    pos += mask_bytes
    for width, data, lengths in parts:
        if lengths is None:
            out[(pos[:, None] + np.arange(width)).ravel()] = data.ravel()
            pos += width
        else:
            total = int(lengths.sum())
            if total:
                starts = np.repeat(pos - (np.cumsum(lengths) - lengths), lengths)
                out[starts + np.arange(total)] = data
            pos += lengths
    return out.tobytes()


_B64_LINE = 57
"""Bytes per line of base64 (76 characters), as MIME and ``base64.encodebytes`` write it."""


def base64_lines(data: bytes) -> bytes:
    """``base64.encodebytes(data)``, the same bytes, encoded at once rather than line by line.

    ``encodebytes`` runs a Python loop over 57-byte lines: 0.5 ms for a 1,000-row result.
    """
    whole = len(data) - len(data) % _B64_LINE
    text = np.frombuffer(binascii.b2a_base64(data[:whole], newline=False), dtype=np.uint8)
    lines = np.empty((whole // _B64_LINE, 77), dtype=np.uint8)
    lines[:, :76] = text.reshape(-1, 76)
    lines[:, 76] = ord("\n")
    tail = binascii.b2a_base64(data[whole:]) if whole < len(data) else b""
    return lines.tobytes() + tail


# ---------------------------------------------------------------- TABLEDATA


def _number_text(values: pa.Array) -> pa.Array:
    """Numbers as TABLEDATA writes them: shortest round-trip text, ``NaN``, ``+Inf``, ``-Inf``."""
    text = values.cast(pa.string())
    if pa.types.is_floating(values.type):
        text = pc.if_else(pc.is_nan(values), "NaN", text)
        text = pc.if_else(pc.is_inf(values),
                          pc.if_else(pc.greater(values, 0), "+Inf", "-Inf"), text)
    return text


def array_text(arr: pa.Array) -> pa.Array:
    """One cell per array value, its numbers separated by blanks; a NULL value is empty."""
    if pa.types.is_fixed_size_list(arr.type) or pa.types.is_large_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    offsets = np.asarray(arr.offsets, dtype=np.int32)
    items = arr.values.slice(offsets[0], offsets[-1] - offsets[0])
    # A NULL inside an array has no TABLEDATA form: NaN as in BINARY2 (0 for integers).
    text = _number_text(items).fill_null("NaN" if pa.types.is_floating(items.type) else "0")
    lists = pa.ListArray.from_arrays(pa.array(offsets - offsets[0]), text,
                                     mask=arr.is_null() if arr.null_count else None)
    return pc.binary_join(lists, " ")


def _td_strings(arr: pa.Array, f: FieldInfo) -> pa.Array:
    arr = _normalise(arr, f)
    if f.datatype == "boolean":
        return pc.if_else(arr, "T", "F")
    if f.arraysize and f.datatype != "char":
        return array_text(arr)
    if f.datatype == "char":
        if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            arr = arr.cast(pa.string())
        arr = pc.replace_substring(arr, "&", "&amp;")
        arr = pc.replace_substring(arr, "<", "&lt;")
        return pc.replace_substring(arr, ">", "&gt;")
    return _number_text(arr)


def encode_tabledata(batch: pa.RecordBatch, fields: Sequence[FieldInfo]) -> str:
    """Return the TR elements of one batch."""
    if batch.num_rows == 0:
        return ""
    cols = [_td_strings(batch.column(i), f) for i, f in enumerate(fields)]
    if len(cols) == 1:
        joined = cols[0].fill_null("")
    else:
        joined = pc.binary_join_element_wise(
            *cols, "</TD><TD>", null_handling="replace", null_replacement=""
        )
    rows = joined.to_pylist()
    return "<TR><TD>" + "</TD></TR>\n<TR><TD>".join(rows) + "</TD></TR>\n"


# ---------------------------------------------------------------- streaming


def stream_votable(
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    overflow: Callable[[], bool],
    *,
    tabledata: bool = False,
    infos: Sequence[tuple[str, str]] = (),
    fields: Sequence[FieldInfo] | None = None,
    catch_errors: bool = True,
) -> Iterator[bytes]:
    """Yield a complete results VOTable, batch by batch.

    An error while iterating ``batches`` ends the table and adds an INFO
    QUERY_STATUS=ERROR after it, so the client sees a well-formed document that
    says the result is incomplete.
    """
    fields = list(fields) if fields is not None else fields_from_schema(schema)
    yield header_xml(fields, infos).encode()
    if tabledata:
        yield b"<DATA><TABLEDATA>\n"
    else:
        yield b'<DATA><BINARY2><STREAM encoding="base64">\n'
    pending = b""
    error: str | None = None
    try:
        for batch in batches:
            if tabledata:
                yield encode_tabledata(batch, fields).encode()
                continue
            data = pending + encode_binary2(batch, fields)
            cut = len(data) - len(data) % _B64_LINE
            pending = data[cut:]
            if cut:
                yield base64_lines(data[:cut])
    except Exception as exc:
        if not catch_errors:
            raise
        error = f"The query failed while its result was being sent: {exc}"
    if tabledata:
        yield b"</TABLEDATA></DATA>\n</TABLE>\n"
    else:
        if pending:
            yield base64_lines(pending)
        yield b"</STREAM></BINARY2></DATA>\n</TABLE>\n"
    if error is not None:
        yield (info_xml("QUERY_STATUS", "ERROR", error) + "\n").encode()
    elif overflow():
        yield (info_xml("QUERY_STATUS", "OVERFLOW") + "\n").encode()
    yield b"</RESOURCE>\n</VOTABLE>\n"
