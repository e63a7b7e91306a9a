"""Arrow results to astropy: units, display format, descriptions and masks per column."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from qserv_access.arrow import arrow_to_astropy


def _field(name: str, array: pa.Array, **meta: str) -> tuple[pa.Field, pa.Array]:
    return pa.field(name, array.type, metadata=meta or None), array


def _table() -> pa.Table:
    cols = [_field("ra", pa.array([1.5, None, 3.25]), unit="deg", description="Right ascension",
                   ucd="pos.eq.ra"),
            _field("id", pa.array([1, None, 2**60], pa.int64()), ucd="meta.id"),
            _field("mag", pa.array([20.5, 21.0, 22.0], pa.float32()), unit="mag"),
            _field("odd", pa.array([1.0, 2.0, 3.0]), unit="not_a_unit_xyz"),
            _field("pt", pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float64(), 2)),
                   unit="deg", xtype="point"),
            _field("name", pa.array(["a", "bb", "c"]))]
    return pa.Table.from_arrays([a for _, a in cols], schema=pa.schema([f for f, _ in cols]))


def test_columns_keep_units_formats_descriptions_and_masks() -> None:
    out = arrow_to_astropy(_table())
    assert out.colnames == ["ra", "id", "mag", "odd", "pt", "name"]
    ra = out["ra"]
    assert str(ra.unit) == "deg" and ra.format == ".7f" and ra.description == "Right ascension"
    assert ra.meta == {"ucd": "pos.eq.ra"} and list(ra.mask) == [False, True, False]
    assert out["id"].dtype == np.int64 and out["id"][2] == 2**60 and out["id"].mask[1]
    assert str(out["mag"].unit) == "mag" and out["mag"].format is None
    assert out["odd"].unit is not None and out["odd"].format is None  # kept, unrecognised
    assert out["pt"].format is None and out["pt"].shape == (3, 2)  # not a 1-D degree column
    assert out["pt"].meta == {"xtype": "point"} and out["name"].dtype.kind == "U"
    assert out.pformat()[3].split()[0] == "1.5000000"  # the format applies when shown


def test_result_columns_are_writable_copies() -> None:
    source = _table()
    out = arrow_to_astropy(source)
    out["ra"][0] = 9.0
    out["mag"][1] = 1.0
    assert source.column("ra")[0].as_py() == 1.5
    assert arrow_to_astropy(source.slice(0, 0)).colnames == out.colnames
    assert len(arrow_to_astropy(pa.table({}))) == 0
