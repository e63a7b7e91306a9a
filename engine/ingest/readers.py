"""Streaming readers for Parquet, CSV, FITS and VOTable inputs, as Arrow record batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from engine.errors import IngestError

BATCH_ROWS = 262_144
"""Rows per record batch: big enough to amortise numpy calls, small enough for memory."""


@dataclass(frozen=True, slots=True)
class FieldMeta:
    """Unit, UCD and description found in an input file for one column."""

    unit: str = ""
    ucd: str = ""
    description: str = ""


@dataclass(slots=True)
class FileProbe:
    """What a quick look at an input file tells: its schema, column metadata, row count."""

    path: str
    schema: pa.Schema
    meta: dict[str, FieldMeta] = field(default_factory=dict)
    nrows: int | None = None


def file_format(path: str) -> str:
    """Return ``parquet``, ``csv``, ``fits`` or ``votable`` from a file name."""
    name = path.lower()
    for suffix in (".gz", ".bz2"):
        name = name.removesuffix(suffix)
    if name.endswith((".parquet", ".parq", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".fits", ".fit", ".fts")):
        return "fits"
    if name.endswith((".xml", ".vot", ".votable")):
        return "votable"
    raise IngestError(
        f"{path}: unknown file type; use .parquet, .csv, .fits or .vot/.xml (VOTable)."
    )


def _unreadable(path: str, exc: BaseException) -> IngestError:
    return IngestError(
        f"{path}: cannot read this file ({type(exc).__name__}: {exc}). "
        "Check it is complete (not truncated) and of the type its name says."
    )


def probe(path: str) -> FileProbe:
    """Return the schema and column metadata of a file without reading its rows."""
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            pf = pq.ParquetFile(path)
            schema = pf.schema_arrow
            meta = {f.name: arrow_field_meta(f) for f in schema}
            return FileProbe(path, schema, meta, pf.metadata.num_rows)
        if fmt == "csv":
            reader = pacsv.open_csv(path)
            return FileProbe(path, reader.schema)
        if fmt == "fits":
            return _probe_fits(path)
        return _probe_votable(path)
    except IngestError:
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from exc


def iter_batches(
    path: str, columns: list[str] | None = None, row_groups: tuple[int, ...] | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of a file as record batches of about :data:`BATCH_ROWS` rows.

    ``row_groups`` restricts a Parquet file to some of its row groups.
    """
    fmt = file_format(path)
    try:
        if fmt == "parquet":
            yield from pq.ParquetFile(path).iter_batches(
                batch_size=BATCH_ROWS, columns=columns,
                row_groups=list(row_groups) if row_groups is not None else None)
        elif fmt == "csv":
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=32 << 20))
            for batch in reader:
                yield batch if columns is None else batch.select(columns)
        elif fmt == "fits":
            yield from _fits_batches(path, columns)
        else:
            table = _votable_arrow(path)
            if columns is not None:
                table = table.select(columns)
            yield from table.to_batches(max_chunksize=BATCH_ROWS)
    except IngestError:
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from exc


def split_parquet(path: str, min_rows: int) -> list[tuple[tuple[int, ...] | None, int]]:
    """Cut a file into (row groups, first row offset) pieces of at least ``min_rows`` rows.

    Files other than Parquet, or with one row group, stay whole: ``[(None, 0)]``.
    """
    if file_format(path) != "parquet":
        return [(None, 0)]
    meta = pq.ParquetFile(path).metadata
    pieces: list[tuple[tuple[int, ...] | None, int]] = []
    groups: list[int] = []
    start = rows = 0
    for i in range(meta.num_row_groups):
        groups.append(i)
        rows += meta.row_group(i).num_rows
        if rows - start >= min_rows:
            pieces.append((tuple(groups), start))
            groups, start = [], rows
    if groups:
        pieces.append((tuple(groups), start))
    return pieces if len(pieces) > 1 else [(None, 0)]


def arrow_field_meta(fld: pa.Field) -> FieldMeta:
    """Unit, UCD and description from an Arrow field's metadata (as we write them)."""
    raw = {k.decode(errors="replace"): v.decode(errors="replace")
           for k, v in (fld.metadata or {}).items()}
    return FieldMeta(
        unit=raw.get("unit", ""), ucd=raw.get("ucd", ""), description=raw.get("description", "")
    )


def _native(array: np.ndarray) -> np.ndarray:
    """Return a native-endian copy (FITS is big-endian; Arrow wants native)."""
    if array.dtype.byteorder not in ("=", "|"):
        return array.astype(array.dtype.newbyteorder("="))
    return array


def _fits_hdu(hdul):  # type: ignore[no-untyped-def]
    from astropy.io import fits

    for hdu in hdul:
        if isinstance(hdu, fits.BinTableHDU | fits.TableHDU):
            return hdu
    raise IngestError("no table extension (BINTABLE) found in this FITS file")


def _probe_fits(path: str) -> FileProbe:
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdul:
        hdu = _fits_hdu(hdul)
        first = _fits_slice(hdu.data, 0, 1, None)
        meta = {}
        for i, col in enumerate(hdu.columns, start=1):
            meta[col.name] = FieldMeta(
                unit=col.unit or "",
                ucd=str(hdu.header.get(f"TUCD{i}", "")),
                description=str(hdu.header.get(f"TCOMM{i}", "")),
            )
        return FileProbe(path, first.schema, meta, int(hdu.header.get("NAXIS2", 0)))


def _fits_slice(data, start: int, stop: int, columns: list[str] | None) -> pa.RecordBatch:  # type: ignore[no-untyped-def]
    names = columns if columns is not None else list(data.columns.names)
    arrays = []
    for name in names:
        values = np.asarray(data.field(name)[start:stop])
        if values.dtype.kind in "SU":
            arrays.append(pa.array(np.char.strip(values.astype(str)).tolist(), pa.string()))
        elif values.ndim > 1:
            arrays.append(pa.array(list(_native(values))))
        else:
            arrays.append(pa.array(_native(values)))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _fits_batches(path: str, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdul:
        hdu = _fits_hdu(hdul)
        nrows = len(hdu.data) if hdu.data is not None else 0
        for start in range(0, nrows, BATCH_ROWS):
            yield _fits_slice(hdu.data, start, min(start + BATCH_ROWS, nrows), columns)


def _votable_arrow(path: str) -> pa.Table:
    from astropy.io.votable import parse_single_table

    table = parse_single_table(path).to_table(use_names_over_ids=True)
    arrays = []
    for name in table.colnames:
        col = table[name]
        values = np.ma.asarray(col)
        mask = np.ma.getmaskarray(values) if np.ma.is_masked(values) else None
        data = np.asarray(np.ma.getdata(values))
        if data.dtype.kind in "SUO":
            arrays.append(pa.array([None if mask is not None and m else str(v)
                                    for v, m in zip(data, mask if mask is not None
                                                    else [False] * len(data), strict=True)],
                                   pa.string()))
        else:
            arrays.append(pa.array(_native(data), mask=mask))
    return pa.table(arrays, names=table.colnames)


def _probe_votable(path: str) -> FileProbe:
    from astropy.io.votable import parse_single_table

    votable = parse_single_table(path)
    meta = {
        f.name: FieldMeta(
            unit=str(f.unit or ""), ucd=f.ucd or "", description=f.description or ""
        )
        for f in votable.fields
    }
    schema = _votable_arrow(path).schema
    return FileProbe(path, schema, meta, None)
