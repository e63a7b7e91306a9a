"""Output formats: resolving RESPONSEFORMAT and streaming a result in each format."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tap_service.errors import InvalidRequestError
from tap_service.votable import (
    FieldInfo,
    array_text,
    fields_from_schema,
    header_xml,
    stream_votable,
)


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """One output format as capabilities advertise it."""

    key: str
    mime: str
    aliases: tuple[str, ...]
    ivo_id: str | None = None
    extension: str = ""


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("votable", "application/x-votable+xml", ("votable", "votable/b2", "text/xml",
                 "application/x-votable+xml;serialization=binary2", "votable/binary2"),
                 "ivo://ivoa.net/std/TAPRegExt#output-votable-binary2", "xml"),
    OutputFormat("votable/td", "application/x-votable+xml;serialization=TABLEDATA",
                 ("votable/td", "votable_td", "votable/tabledata"),
                 "ivo://ivoa.net/std/TAPRegExt#output-votable-td", "xml"),
    OutputFormat("csv", "text/csv;header=present", ("csv", "text/csv"), None, "csv"),
    OutputFormat("tsv", "text/tab-separated-values", ("tsv", "tab-separated-values"), None, "tsv"),
    OutputFormat("fits", "application/fits", ("fits", "image/fits"), None, "fits"),
    OutputFormat("parquet", "application/vnd.apache.parquet",
                 ("parquet", "application/x-parquet"), None, "parquet"),
    OutputFormat("json", "application/json", ("json", "text/json"), None, "json"),
)
"""Every output format, the default (BINARY2 VOTable) first."""

_BY_NAME: dict[str, OutputFormat] = {}
for _fmt in FORMATS:
    for _name in (_fmt.key, _fmt.mime, *_fmt.aliases):
        _BY_NAME[_name.lower().replace(" ", "")] = _fmt


def resolve_format(value: str | None) -> OutputFormat:
    """Return the format named by RESPONSEFORMAT/FORMAT (alias or MIME type)."""
    if not value:
        return FORMATS[0]
    key = value.strip().lower().replace(" ", "").replace('"', "")
    if key in _BY_NAME:
        return _BY_NAME[key]
    if key.startswith("application/x-votable+xml"):
        return FORMATS[1] if "tabledata" in key else FORMATS[0]
    names = ", ".join(f.key for f in FORMATS)
    raise InvalidRequestError(
        f"Unsupported RESPONSEFORMAT '{value}'; use one of {names} or their MIME types."
    )


Overflow = Callable[[], bool]


def stream_result(
    fmt: OutputFormat,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    overflow: Overflow,
    infos: Sequence[tuple[str, str]] = (),
    *,
    catch_errors: bool = True,
) -> Iterator[bytes]:
    """Yield the bytes of a result in ``fmt``.

    With ``catch_errors`` a VOTable reports a failure met after its header was sent
    inside the document (sync); without, the error propagates (async jobs).
    """
    fields = fields_from_schema(schema)
    if fmt.key in ("votable", "votable/td"):
        return stream_votable(schema, batches, overflow, tabledata=fmt.key == "votable/td",
                              infos=infos, fields=fields, catch_errors=catch_errors)
    if fmt.key in ("csv", "tsv"):
        return _stream_csv(batches, "," if fmt.key == "csv" else "\t")
    if fmt.key == "json":
        return _stream_json(fields, batches, overflow)
    if fmt.key == "parquet":
        return _stream_parquet(schema, fields, batches, infos)
    return _fits(schema, fields, batches)


def _flatten_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Turn list columns into text (as TABLEDATA writes them) so that CSV can hold them."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type) or \
                pa.types.is_large_list(col.type):
            col = array_text(col)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _stream_csv(batches: Iterable[pa.RecordBatch], delimiter: str) -> Iterator[bytes]:
    header = True
    for batch in batches:
        sink = io.BytesIO()
        options = pacsv.WriteOptions(include_header=header, delimiter=delimiter,
                                     quoting_style="needed")
        pacsv.write_csv(_flatten_lists(batch), sink, options)
        header = False
        yield sink.getvalue()


def _json_value(v: object) -> object:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if hasattr(v, "isoformat"):
        return v.isoformat()  # type: ignore[no-any-return]
    return v


def _stream_json(fields: Sequence[FieldInfo], batches: Iterable[pa.RecordBatch],
                 overflow: Overflow) -> Iterator[bytes]:
    meta = [{"name": f.name, "datatype": f.datatype, "arraysize": f.arraysize, "unit": f.unit,
             "ucd": f.ucd, "xtype": f.xtype, "description": f.description} for f in fields]
    yield (json.dumps({"metadata": meta})[:-1] + ', "data": [\n').encode()
    first = True
    for batch in batches:
        cols = [[_json_value(v) for v in c.to_pylist()] for c in batch.columns]
        rows = [json.dumps(list(r)) for r in zip(*cols, strict=True)]
        if rows:
            yield ((",\n" if not first else "") + ",\n".join(rows)).encode()
            first = False
    yield f'\n], "overflow": {"true" if overflow() else "false"}}}\n'.encode()


class _Chunks(io.RawIOBase):
    """A write-only file collecting what Parquet writes, drained between row groups."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _stream_parquet(schema: pa.Schema, fields: Sequence[FieldInfo],
                    batches: Iterable[pa.RecordBatch],
                    infos: Sequence[tuple[str, str]]) -> Iterator[bytes]:
    # The IVOA VOTable-Parquet convention (as Rubin's TAP writes it): the VOTable header
    # with the FIELDs travels in the file's key-value metadata.
    votable = header_xml(fields, infos) + "<DATA/></TABLE>\n</RESOURCE>\n</VOTABLE>\n"
    meta = dict(schema.metadata or {})
    meta[b"IVOA.VOTable-Parquet.version"] = b"1.0"
    meta[b"IVOA.VOTable-Parquet.content"] = votable.encode()
    schema = schema.with_metadata(meta)
    sink = _Chunks()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    try:
        for batch in batches:
            writer.write_batch(_nan_for_null_arrays(batch).replace_schema_metadata(meta))
            chunk = sink.drain()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.drain()


def _nan_for_null_arrays(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A NULL fixed-size float array (a NULL point or circle) becomes an array of NaN.

    That is how VOTable writes a null float array, and astropy's Parquet reader cannot
    read a NULL fixed-size list at all (it stacks the rows into one 2-d array).
    """
    arrays = []
    for col in batch.columns:
        if pa.types.is_fixed_size_list(col.type) and col.null_count \
                and pa.types.is_floating(col.type.value_type):
            col = col.fill_null(pa.scalar([math.nan] * col.type.list_size, col.type))
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _fits(schema: pa.Schema, fields: Sequence[FieldInfo],
          batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    # FITS needs the row count in its header before the data: this format is built in
    # memory (bounded by MAXREC); the streaming formats are VOTable, CSV, Parquet, JSON.
    from astropy import units as u
    from astropy.table import MaskedColumn, Table

    table = pa.Table.from_batches(list(batches), schema=schema)
    out = Table()
    for f, col in zip(fields, table.columns, strict=True):
        arr = col.combine_chunks() if col.num_chunks else pa.array([], col.type)
        if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
            arr = arr.cast(pa.string())
        if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
            arr = _flatten_lists(pa.RecordBatch.from_arrays([arr], names=["x"])).column(0)
        if pa.types.is_fixed_size_list(arr.type):
            if arr.null_count:
                arr = arr.fill_null(pa.scalar([math.nan] * arr.type.list_size, arr.type))
            values = np.asarray(arr.flatten().to_numpy(zero_copy_only=False), dtype=float)
            data: np.ndarray = values.reshape(len(arr), arr.type.list_size)
            mask = None
        elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            ascii_only = pc.replace_substring_regex(arr.fill_null(""), r"[^\x00-\x7f]", "?")
            data = np.asarray(ascii_only.to_pylist(), dtype=str)  # FITS text is ASCII
            mask = None
        else:
            mask = ~np.asarray(arr.is_valid()) if arr.null_count else None
            if mask is not None and pa.types.is_floating(arr.type):
                arr, mask = arr.fill_null(float("nan")), None
            elif mask is not None:
                arr = pc.fill_null(arr, pa.scalar(0 if not pa.types.is_boolean(arr.type)
                                                  else False, arr.type))
            data = np.asarray(arr.to_numpy(zero_copy_only=False))
        unit = u.Unit(f.unit, parse_strict="silent") if f.unit else None
        out[f.name] = MaskedColumn(data, mask=mask, unit=unit, description=f.description) \
            if mask is not None else data
        if unit is not None:
            out[f.name].unit = unit
    buf = io.BytesIO()
    out.write(buf, format="fits")
    yield buf.getvalue()
