import csv
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse
from astropy.table import Table

from tap_service.errors import InvalidRequestError
from tap_service.formats import resolve_format, stream_result
from tests.support import geometry_cases as geo


def _table():
    schema = pa.schema([pa.field("id", pa.int64()),
                        pa.field("ra", pa.float64(), metadata={b"unit": b"deg"}),
                        pa.field("name", pa.string())])
    return pa.table([pa.array([1, 2, None]), pa.array([1.5, None, 3.0]),
                     pa.array(["a", "b,c", None])], schema=schema)


def _bytes(fmt, table=None):
    table = table if table is not None else _table()
    return b"".join(stream_result(resolve_format(fmt), table.schema,
                                  table.to_batches(max_chunksize=2), lambda: True))


@pytest.mark.parametrize(("name", "key"), [
    (None, "votable"), ("votable", "votable"), ("application/x-votable+xml", "votable"),
    ("votable/td", "votable/td"),
    ("application/x-votable+xml;serialization=TABLEDATA", "votable/td"),
    ("application/x-votable+xml; serialization=tabledata", "votable/td"),
    ("text/xml", "votable"), ("CSV", "csv"), ("text/csv", "csv"), ("tsv", "tsv"),
    ("fits", "fits"), ("application/fits", "fits"), ("parquet", "parquet"),
    ("application/vnd.apache.parquet", "parquet"), ("json", "json"),
])
def test_format_names_and_mime_types_resolve(name, key):
    assert resolve_format(name).key == key


def test_unknown_format_is_an_invalid_request():
    with pytest.raises(InvalidRequestError, match="Unsupported RESPONSEFORMAT 'xls'"):
        resolve_format("xls")


def test_csv_has_one_header_and_quotes_commas():
    text = _bytes("csv").decode()
    assert text.splitlines() == ['"id","ra","name"', '1,1.5,"a"', '2,,"b,c"', ',3,']


def test_tsv_uses_tabs():
    assert _bytes("tsv").decode().splitlines()[0] == '"id"\t"ra"\t"name"'


def test_json_has_metadata_data_and_overflow():
    doc = json.loads(_bytes("json"))
    assert [m["name"] for m in doc["metadata"]] == ["id", "ra", "name"]
    assert doc["metadata"][1]["unit"] == "deg"
    assert doc["data"] == [[1, 1.5, "a"], [2, None, "b,c"], [None, 3.0, None]]
    assert doc["overflow"] is True


def test_parquet_embeds_the_votable_header():
    table = pq.read_table(io.BytesIO(_bytes("parquet")))
    assert table.num_rows == 3
    meta = table.schema.metadata
    assert meta[b"IVOA.VOTable-Parquet.version"] == b"1.0"
    vot = parse(io.BytesIO(meta[b"IVOA.VOTable-Parquet.content"]))
    assert [f.name for f in vot.get_first_table().fields] == ["id", "ra", "name"]
    assert vot.get_first_table().fields[1].unit == "deg"


def test_fits_is_a_binary_table_with_units():
    out = Table.read(io.BytesIO(_bytes("fits")), format="fits")
    assert len(out) == 3
    assert str(out["ra"].unit) == "deg"
    assert list(out["name"][:2]) == ["a", "b,c"]


# ------------------------------------------------------- geometry values in every format
# Through the service's query path (tap_service.query.start_query) on the real engine:
# the result schema the engine makes is what every format writes.


def _geometry_bytes(engine, adql, fmt, uploads=None):
    from tap_service.params import QueryRequest
    from tap_service.query import start_query

    request = QueryRequest(query=adql, maxrec=10_000, response_format=fmt, upload=None)
    started = start_query(engine, request, uploads or {}, timeout_s=60, cancel=None)
    return b"".join(started.chunks)


def _targets():
    return pa.table({k: pa.array(v, pa.int64() if k == "tid" else pa.float64())
                     for k, v in geo.UPLOAD_ROWS.items()})


def _read_back(fmt, data):
    """Read a result as a client of that format does (astropy, csv, json)."""
    if fmt in ("votable", "votable/td"):
        vot = parse(io.BytesIO(data))
        return geo.from_astropy(vot.get_first_table().to_table(), geo.votable_fields(vot))
    if fmt == "parquet":
        header = parse(io.BytesIO(pq.read_schema(io.BytesIO(data)).metadata[
            b"IVOA.VOTable-Parquet.content"]))
        table = Table.read(io.BytesIO(data), format="parquet.votable")
        return geo.from_astropy(table, geo.votable_fields(header))
    if fmt == "fits":
        table = Table.read(io.BytesIO(data), format="fits")
        units = {name: {"unit": None if table[name].unit is None
                        else table[name].unit.to_string("vounit")} for name in table.colnames}
        return geo.from_astropy(table, units)
    if fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(data.decode()), delimiter="," if fmt == "csv"
                               else "\t"))
        return geo.from_rows(rows[0], [[c if c != "" else None for c in r] for r in rows[1:]])
    doc = json.loads(data)
    read = geo.from_rows([m["name"] for m in doc["metadata"]], doc["data"])
    read.fields = {m["name"]: m for m in doc["metadata"]}
    return read


ALL_FORMATS = ("votable", "votable/td", "parquet", "fits", "csv", "tsv", "json")


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_geometry_function_reads_back_in_every_format(tap_engine, fmt):
    read = _read_back(fmt, _geometry_bytes(tap_engine, geo.WIDE, fmt))
    assert len(read.values["k"]) == 40
    geo.check(read)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_null_geometry_values_stay_null_in_every_format(tap_engine, fmt):
    data = _geometry_bytes(tap_engine, geo.NULLS, fmt, {"targets": _targets()})
    read = _read_back(fmt, data)
    assert list(read.nulls["ra"] | read.nulls["dec"]) == [False, True, True, False]
    geo.check(read)


@pytest.mark.parametrize("fmt", ["votable", "votable/td", "parquet", "json"])
def test_empty_geometry_result_declares_the_same_fields(tap_engine, fmt):
    read = _read_back(fmt, _geometry_bytes(tap_engine, geo.EMPTY, fmt))
    assert len(read.values["k"]) == 0
    for case in geo.CASES:
        geo.check_field(read.fields[case.name], case)


def test_binary2_and_tabledata_agree_value_for_value(tap_engine):
    uploads = {"targets": _targets()}
    for adql in (geo.WIDE, geo.NULLS):
        b2 = parse(io.BytesIO(_geometry_bytes(tap_engine, adql, "votable", uploads)))
        td = parse(io.BytesIO(_geometry_bytes(tap_engine, adql, "votable/td", uploads)))
        b2_table, td_table = b2.get_first_table().array, td.get_first_table().array
        assert b2_table.dtype == td_table.dtype
        assert [str(f) for f in b2.get_first_table().fields] == \
            [str(f) for f in td.get_first_table().fields]
        b2_read = geo.from_astropy(b2.get_first_table().to_table())
        td_read = geo.from_astropy(td.get_first_table().to_table())
        for name in b2_table.dtype.names:
            assert np.array_equal(b2_read.nulls[name], td_read.nulls[name]), name
            for a, b in zip(b2_read.values[name], td_read.values[name], strict=True):
                assert (a is None and b is None) or np.array_equal(a, b), (name, a, b)


def test_parquet_column_types_match_the_declared_array_sizes(tap_engine):
    data = _geometry_bytes(tap_engine, geo.WIDE, "parquet")
    schema = pq.read_schema(io.BytesIO(data))
    for case in geo.ARRAY_CASES:
        dtype = schema.field(case.name).type
        if case.arraysize == "*":
            assert pa.types.is_list(dtype), (case.name, dtype)
        else:
            assert pa.types.is_fixed_size_list(dtype), (case.name, dtype)
            assert str(dtype.list_size) == case.arraysize
