"""UPLOAD=name,uri: uploaded VOTable or CSV tables, read into Arrow with limits."""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from tap_service.errors import PayloadTooLargeError, UploadError
from tap_service.params import RequestParams
from tap_service.url_uploads import fetch_upload

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def parse_upload_spec(value: str) -> list[tuple[str, str]]:
    """Split ``a,param:x;b,http://...`` into (name, uri) pairs."""
    pairs = []
    for item in value.split(";"):
        if not item.strip():
            continue
        name, sep, uri = item.partition(",")
        name, uri = name.strip(), uri.strip()
        if not sep or not uri:
            raise UploadError(f"Invalid UPLOAD '{item}': use UPLOAD=name,param:part or name,URL.")
        if not _NAME.match(name):
            raise UploadError(
                f"Invalid upload table name '{name}': use letters, digits and '_', "
                "starting with a letter."
            )
        pairs.append((name, uri))
    return pairs


async def read_uploads(params: RequestParams, spec: str | None, *, max_bytes: int,
                       max_rows: int, allow_urls: bool,
                       allow_private_urls: bool = False) -> dict[str, pa.Table]:
    """Return the uploaded tables named in UPLOAD, by lower-case name.

    ``max_bytes`` bounds all the tables of the request together, inline or fetched.

    Raises
    ------
    UploadError
        A table cannot be had or used.
    PayloadTooLargeError
        The tables exceed ``max_bytes``.
    """
    if not spec:
        return {}
    tables: dict[str, pa.Table] = {}
    budget = max_bytes
    for name, uri in parse_upload_spec(spec):
        if uri.startswith("param:"):
            part = uri[len("param:"):]
            upload = params.files.get(part)
            if upload is None:
                raise UploadError(
                    f"UPLOAD '{name}' names the multipart part '{part}', which the request lacks."
                )
            data = await upload.read(budget + 1)
        elif uri.lower().startswith(("http://", "https://")):
            if not allow_urls:
                raise UploadError(
                    f"UPLOAD '{name}' gives a URL; this service accepts only inline uploads "
                    "(UPLOAD=name,param:part with a multipart part)."
                )
            data = await fetch_upload(uri, name, max_bytes=budget,
                                      allow_private=allow_private_urls)
        else:
            raise UploadError(
                f"UPLOAD '{name}': unsupported URI '{uri}'; use param:part or an http(s) URL."
            )
        if len(data) > budget:
            raise PayloadTooLargeError(
                f"The uploaded tables exceed the service's limit of {max_bytes} bytes "
                f"(at '{name}')."
            )
        budget -= len(data)
        table = parse_table(data, name)
        if table.num_rows > max_rows:
            raise UploadError(
                f"Uploaded table '{name}' has {table.num_rows} rows; the limit is {max_rows}."
            )
        tables[name.lower()] = table
    return tables


def parse_table(data: bytes, name: str) -> pa.Table:
    """Read a VOTable (anything starting with '<') or a CSV table with a header line.

    Raises
    ------
    UploadError
        The data is neither format, or its column names cannot be told apart in ADQL.
    """
    head = data.lstrip()[:1]
    try:
        table = _votable_to_arrow(data) if head == b"<" else pacsv.read_csv(io.BytesIO(data))
    except UploadError:
        raise
    except Exception as exc:
        raise UploadError(
            f"Uploaded table '{name}' is neither a readable VOTable nor a CSV file: {exc}"
        ) from exc
    check_column_names(table.column_names, name)
    return table


def check_column_names(columns: list[str], name: str) -> None:
    """Refuse columns a query could not address one by one.

    ADQL names are case-insensitive unless quoted, so ``a`` and ``A`` would be one column
    to the query and the engine would read either; an empty name cannot be written at all.

    Raises
    ------
    UploadError
        A column has no name, or two names differ at most in case.
    """
    unnamed = [i + 1 for i, column in enumerate(columns) if not column.strip()]
    if unnamed:
        raise UploadError(
            f"Uploaded table '{name}' has columns without a name (column "
            f"{', '.join(map(str, unnamed))}); give every column a name in the header."
        )
    seen: dict[str, str] = {}
    for column in columns:
        first = seen.get(column.lower())
        seen.setdefault(column.lower(), column)
        if first is not None:
            same = "the same name" if first == column else "names that differ only in case"
            raise UploadError(
                f"Uploaded table '{name}' has {same}, '{first}' and '{column}'; ADQL names "
                "are case-insensitive, so rename one of them."
            )


def _votable_to_arrow(data: bytes) -> pa.Table:
    import warnings

    from astropy.io.votable import parse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        votable = parse(io.BytesIO(data), verify="ignore")
    vt = votable.get_first_table()
    table = vt.to_table(use_names_over_ids=True)
    arrays, fields = [], []
    for vfield, col in zip(vt.fields, table.columns.values(), strict=True):
        arr = _column_to_arrow(col)
        xtype = (vfield.xtype or "").lower()
        if xtype == "timestamp" and pa.types.is_string(arr.type):
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                arr = arr.cast(pa.timestamp("ms"))  # else kept as text, with its xtype
        meta = {}
        for key, value in (("unit", vfield.unit), ("ucd", vfield.ucd), ("xtype", vfield.xtype),
                           ("description", vfield.description)):
            if value:
                meta[key.encode()] = str(value).encode()
        arrays.append(arr)
        fields.append(pa.field(col.name, arr.type, metadata=meta or None))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _column_to_arrow(col: object) -> pa.Array:
    values: np.ma.MaskedArray = np.ma.asarray(col)  # type: ignore[type-arg]
    mask: np.ndarray | None = (np.asarray(np.ma.getmaskarray(values))
                               if np.ma.isMaskedArray(col) else None)
    raw = np.ma.getdata(values)
    if raw.dtype.kind in ("U", "S", "O"):
        items = [None if (mask is not None and mask[i]) else
                 (v.decode() if isinstance(v, bytes) else str(v)) for i, v in enumerate(raw)]
        return pa.array(items, pa.string())
    if raw.ndim > 1:
        return pa.array(list(raw.astype(float)), pa.list_(pa.float64(), raw.shape[1]))
    if mask is not None and mask.ndim > 1:
        mask = np.asarray(mask.any(axis=tuple(range(1, mask.ndim))))
    return pa.array(raw, mask=mask if mask is not None and mask.any() else None)
