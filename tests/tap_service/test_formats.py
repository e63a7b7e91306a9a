import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse
from astropy.table import Table

from tap_service.errors import InvalidRequestError
from tap_service.formats import resolve_format, stream_result


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
