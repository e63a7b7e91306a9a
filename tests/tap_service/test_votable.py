import io

import numpy as np
import pyarrow as pa
import pytest
from astropy.io.votable import parse
from pyvo.dal import DALOverflowWarning, DALResults

from tap_service.votable import error_votable, stream_votable


def _table():
    meta = {b"unit": b"deg", b"ucd": b"pos.eq.ra", b"description": b"Right ascension"}
    schema = pa.schema([
        pa.field("id", pa.int64()), pa.field("ra", pa.float64(), metadata=meta),
        pa.field("mag", pa.float32()), pa.field("flag", pa.bool_()),
        pa.field("small", pa.int8()), pa.field("name", pa.string()),
        pa.field("pos", pa.list_(pa.float64(), 2), metadata={b"xtype": b"point"}),
        pa.field("poly", pa.list_(pa.float64()), metadata={b"xtype": b"polygon"}),
        pa.field("t", pa.timestamp("ms")),
    ])
    return pa.table([
        pa.array([1, None, 3, 4]), pa.array([10.5, 20.25, None, 359.9]),
        pa.array([1.5, None, 3.5, 4.5], pa.float32()), pa.array([True, False, None, True]),
        pa.array([-1, 2, None, 127], pa.int8()), pa.array(["a", None, "x<&>y", ""]),
        pa.array([[1.0, 2.0], None, [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float64(), 2)),
        pa.array([[1.0, 2, 3, 4, 5, 6], [], None, [0.0, 1, 2, 3, 4, 5]]),
        pa.array([0, 1_700_000_000_000, None, 86_400_000], pa.timestamp("ms")),
    ], schema=schema)


def _vot(table, *, tabledata, overflow=False, chunk=3):
    data = b"".join(stream_votable(table.schema, table.to_batches(max_chunksize=chunk),
                                   lambda: overflow, tabledata=tabledata))
    return data, parse(io.BytesIO(data))


@pytest.mark.parametrize("tabledata", [False, True])
def test_round_trip_through_astropy_keeps_values_nulls_and_metadata(tabledata):
    table = _table()
    data, vot = _vot(table, tabledata=tabledata)
    assert (b"<TABLEDATA>" in data) == tabledata
    assert (b"<BINARY2>" in data) != tabledata
    out = vot.get_first_table().to_table()
    assert len(out) == 4
    assert list(np.ma.filled(out["id"], -99)) == [1, -99, 3, 4]
    assert out["ra"][1] == 20.25
    assert np.ma.is_masked(out["ra"][2])
    assert str(out["ra"].unit) == "deg"
    assert out["ra"].description == "Right ascension"
    assert list(out["flag"][[0, 1, 3]]) == [True, False, True]
    assert list(out["small"][[0, 1, 3]]) == [-1, 2, 127]
    assert out["name"][2] == "x<&>y"
    assert list(out["pos"][0]) == [1.0, 2.0]
    assert list(out["poly"][0]) == [1.0, 2, 3, 4, 5, 6]
    assert out["t"][1].startswith("2023-11-14T22:13:20")
    field = vot.get_first_table().get_field_by_id_or_name("pos")
    assert (field.datatype, field.arraysize, field.xtype) == ("double", "2", "point")


def test_overflow_info_follows_the_table():
    data, vot = _vot(_table(), tabledata=False, overflow=True)
    infos = [(i.name, i.value) for i in vot.resources[0].infos]
    assert infos[0] == ("QUERY_STATUS", "OK")
    assert infos[-1] == ("QUERY_STATUS", "OVERFLOW")
    assert data.index(b'value="OVERFLOW"') > data.index(b"</TABLE>")


def test_pyvo_reads_the_result_and_warns_on_overflow():
    _, vot = _vot(_table(), tabledata=False, overflow=True)
    with pytest.warns(DALOverflowWarning, match="MAXREC"):
        results = DALResults(vot)
    assert len(results) == 4


def test_many_rows_stream_in_batches_and_base64_joins_correctly():
    n = 10_007
    rng = np.random.default_rng(3)
    table = pa.table({"x": rng.normal(size=n), "s": [f"row{i}" for i in range(n)],
                      "k": np.arange(n, dtype=np.int32)})
    _, vot = _vot(table, tabledata=False, chunk=997)
    out = vot.get_first_table().to_table()
    assert len(out) == n
    assert out["s"][n - 1] == f"row{n - 1}"
    assert np.allclose(out["x"], table["x"].to_numpy())


def test_empty_result_is_a_valid_table():
    table = _table().slice(0, 0)
    _, vot = _vot(table, tabledata=False)
    assert len(vot.get_first_table().to_table()) == 0


def test_failure_during_streaming_is_reported_in_the_document():
    table = _table()

    def failing():
        yield table.to_batches()[0]
        raise RuntimeError("disk vanished")

    data = b"".join(stream_votable(table.schema, failing(), lambda: False))
    vot = parse(io.BytesIO(data))
    assert vot.resources[0].infos[-1].value == "ERROR"
    assert "disk vanished" in vot.resources[0].infos[-1].content


def test_error_document_is_dali_compliant():
    vot = parse(io.BytesIO(error_votable("bad <query> & more").encode()))
    info = vot.resources[0].infos[0]
    assert (info.name, info.value, info.content) == ("QUERY_STATUS", "ERROR", "bad <query> & more")
    assert vot.resources[0].type == "results"


@pytest.mark.parametrize("tabledata", [False, True])
def test_array_size_follows_the_arrow_type_whatever_the_xtype(tabledata):
    # A variable list is written with a length before its values, so its FIELD must say
    # arraysize="*" even when tagged as a point; a fixed-size list says its size.
    schema = pa.schema([
        pa.field("p", pa.list_(pa.float64()), metadata={b"xtype": b"point"}),
        pa.field("c", pa.list_(pa.float64(), 3), metadata={b"xtype": b"circle"}),
        pa.field("after", pa.int64()),
    ])
    table = pa.table([pa.array([[1.0, 2.0], None, [3.0, 4.0]]),
                      pa.array([[1.0, 2.0, 0.5], [3.0, 4.0, 1.0], None],
                               pa.list_(pa.float64(), 3)),
                      pa.array([7, 8, 9])], schema=schema)
    _, vot = _vot(table, tabledata=tabledata, chunk=2)
    fields = {f.name: f for f in vot.get_first_table().fields}
    assert (fields["p"].arraysize, fields["c"].arraysize) == ("*", "3")
    array = vot.get_first_table().array
    assert list(array["after"]) == [7, 8, 9]
    assert list(array["p"][0]) == [1.0, 2.0] and list(array["p"][2]) == [3.0, 4.0]
    assert np.ma.getmaskarray(array["c"])[2].all()
    assert list(array["c"][1]) == [3.0, 4.0, 1.0]


def test_tabledata_spells_special_floats_as_votable_does():
    schema = pa.schema([pa.field("x", pa.float64()),
                        pa.field("a", pa.list_(pa.float64()))])
    table = pa.table([pa.array([float("nan"), float("inf"), -float("inf"), None, 0.1 + 0.2]),
                      pa.array([[float("nan"), None, 1e-5], [], None, [2.0], [0.1 + 0.2]])],
                     schema=schema)
    data, _ = _vot(table, tabledata=True)
    text = data.decode()
    cells = [row.split("</TD><TD>") for row in
             text.split("<TABLEDATA>\n")[1].split("</TABLEDATA>")[0]
             .replace("<TR><TD>", "").replace("</TD></TR>", "").splitlines()]
    assert cells == [["NaN", "NaN NaN 0.00001"], ["+Inf", ""], ["-Inf", ""], ["", "2"],
                     ["0.30000000000000004", "0.30000000000000004"]]


def _fixed_width_batch():
    """Every column of one width per row (no text, no variable array), with NULLs."""
    return pa.record_batch([
        pa.array([1, None, -3, 2**40]), pa.array([10.5, 20.25, None, -0.0]),
        pa.array([1.5, None, 3.5, float("nan")], pa.float32()),
        pa.array([True, False, None, True]), pa.array([-1, 2, None, 127], pa.int8()),
        pa.array([[1.0, 2.0], None, [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float64(), 2)),
        *(pa.array([i, None, 7, -i], pa.int16()) for i in range(4)),  # 10 columns: 2 mask bytes
    ], names=["id", "ra", "mag", "flag", "small", "pos", "a", "b", "c", "d"])


def test_rows_of_one_width_are_the_bytes_the_scattering_encoder_writes():
    from tap_service.votable import (
        _column_parts,
        _fixed_rows,
        _normalise,
        _scattered_rows,
        encode_binary2,
        fields_from_schema,
    )

    batch = _fixed_width_batch()
    fields = fields_from_schema(batch.schema)
    nulls = np.zeros((batch.num_rows, 16), dtype=bool)
    parts = []
    for i, f in enumerate(fields):
        arr = _normalise(batch.column(i), f)
        nulls[:, i] = ~np.asarray(arr.is_valid())
        parts.extend(_column_parts(arr, f))
    mask = np.packbits(nulls, axis=1, bitorder="big")
    encoded = encode_binary2(batch, fields)
    assert encoded == _fixed_rows(mask, parts) == _scattered_rows(mask, parts)
    assert len(encoded) == 4 * (2 + 8 + 8 + 4 + 1 + 2 + 16 + 4 * 2)  # int8 travels as short


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 114, 57 * 300 + 5])
def test_base64_lines_are_those_of_encodebytes(size):
    import base64

    from tap_service.votable import base64_lines

    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert base64_lines(data) == base64.encodebytes(data)
