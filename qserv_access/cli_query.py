"""``qserv-access query``: run ADQL on a local data directory and stream the rows out."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

HELP_QUERY = "run an ADQL query on a data directory; write CSV, VOTable, Parquet or JSON"
FORMATS = ("csv", "votable", "parquet", "json")


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``query`` options."""
    parser.add_argument("--data-dir", required=True, help="data directory")
    parser.add_argument("--format", choices=FORMATS, default="csv",
                        help="output format (default csv)")
    parser.add_argument("--output", "-o", help="write here instead of stdout")
    parser.add_argument("--maxrec", type=int, help="return at most N rows (warns when cut)")
    parser.add_argument("--timeout", type=float, dest="timeout_s",
                        help="stop the query after S seconds")
    parser.add_argument("--explain", action="store_true",
                        help="print how the query would run (chunks, SQL) instead of running it")
    parser.add_argument("adql", metavar="ADQL", help="the query, e.g. \"SELECT TOP 5 * FROM x.y\"")


def run_query(args: argparse.Namespace) -> int:
    """Run ``query``: rows go to stdout or ``--output``; errors and warnings to stderr."""
    from engine.api import Engine

    if not Path(args.data_dir).is_dir():
        sys.stderr.write(f"qserv-access query: error: data directory {args.data_dir} does not "
                         "exist; create it with 'qserv-access ingest'.\n")
        return 2
    engine = Engine.open(args.data_dir)
    try:
        if args.explain:
            sys.stdout.write(engine.plan(args.adql, maxrec=args.maxrec).explain() + "\n")
            return 0
        if args.format == "parquet" and args.output is None and sys.stdout.isatty():
            sys.stderr.write("qserv-access query: error: Parquet is binary; give --output FILE "
                             "or redirect stdout.\n")
            return 2
        result = engine.query(args.adql, maxrec=args.maxrec, timeout_s=args.timeout_s)
        with _open_output(args.output, binary=args.format in ("parquet", "votable")) as out:
            WRITERS[args.format](result.schema, result.batches(), out)
        if result.overflow:
            sys.stderr.write(f"qserv-access query: warning: the result was cut at "
                             f"--maxrec {args.maxrec} rows; raise it or add constraints.\n")
        return 0
    finally:
        engine.close()


@contextlib.contextmanager
def _open_output(path: str | None, *, binary: bool) -> Iterator[IO[bytes] | IO[str]]:
    if path is None:
        stream: IO[bytes] | IO[str] = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    with open(path, "wb" if binary else "w", encoding=None if binary else "utf-8",
              newline=None if binary else "") as handle:
        yield handle


def _meta(field: pa.Field) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}


def write_csv(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: IO[str]) -> None:
    """Write a header line, then each batch as it arrives (pyarrow.csv); flushes per batch."""
    import io

    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    with pacsv.CSVWriter(buffer, _plain_schema(schema)) as writer:
        for batch in batches:
            writer.write_batch(_plain_batch(batch))
            out.write(buffer.getvalue().decode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().decode("utf-8"))


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Types CSV cannot write (lists, binary) are sent as text."""
    return pa.schema([pa.field(f.name, _csv_type(f.type)) for f in schema])


def _csv_type(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or \
            pa.types.is_fixed_size_list(dtype) or pa.types.is_struct(dtype):
        return pa.string()
    return dtype


def _plain_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    arrays = []
    for column in batch.columns:
        if _csv_type(column.type) != column.type:
            column = pa.array([None if v is None else json.dumps(v) for v in column.to_pylist()],
                              pa.string())
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def write_parquet(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: IO[bytes]) -> None:
    """Write Parquet, row group by row group; field metadata (unit, ucd, ...) is kept."""
    import pyarrow.parquet as pq

    with pq.ParquetWriter(out, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


def write_json(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: IO[str]) -> None:
    """Write ``{"columns": [...], "data": [[...], ...]}``, one row per line, as rows arrive."""
    columns = [{"name": f.name, "datatype": str(f.type), **{
        k: _meta(f).get(k, "") for k in ("unit", "ucd", "description")}} for f in schema]
    out.write('{"columns": ' + json.dumps(columns) + ',\n "data": [')
    first = True
    for batch in batches:
        for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
            out.write(("\n  " if first else ",\n  ") + json.dumps([_json_value(v) for v in row]))
            first = False
    out.write("\n ]}\n")


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def write_votable(schema: pa.Schema, batches: Iterator[pa.RecordBatch], out: IO[bytes]) -> None:
    """Write a VOTable (BINARY2) through astropy, with units, UCDs and descriptions."""
    from astropy.io.votable import from_table

    from qserv_access.local import arrow_to_astropy

    table = arrow_to_astropy(pa.Table.from_batches(list(batches), schema=schema))
    votable = from_table(table)
    fields = votable.get_first_table().fields
    for field, column in zip(fields, schema, strict=True):
        meta = _meta(column)
        if meta.get("ucd"):
            field.ucd = meta["ucd"]
        if meta.get("xtype"):
            field.xtype = meta["xtype"]
    votable.get_first_table().format = "binary2"
    votable.to_xml(out)


Writer = Callable[[pa.Schema, Iterator[pa.RecordBatch], Any], None]
WRITERS: dict[str, Writer] = {"csv": write_csv, "votable": write_votable,
                              "parquet": write_parquet, "json": write_json}
"""Format name -> writer(schema, batches, stream)."""
