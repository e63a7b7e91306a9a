"""The embedded client reads geometry results from the engine's result schema."""

import numpy as np
from astropy.table import MaskedColumn, Table

from tests.support import geometry_cases as geo

WIDE = geo.wide_select("sky.object") + " WHERE dec BETWEEN -60 AND 60 ORDER BY k"
EMPTY = geo.wide_select("sky.object") + " WHERE dec > 90"


def _fields(table):
    return {name: {"unit": None if table[name].unit is None
                   else table[name].unit.to_string("vounit"),
                   "ucd": table[name].meta.get("ucd"), "xtype": table[name].meta.get("xtype")}
            for name in table.colnames}


def test_local_query_gives_geometry_values_shapes_and_units(catalog):
    table = catalog.query(WIDE)
    assert len(table) == 40
    assert table["g_point"].shape == (40, 2) and table["g_circle"].shape == (40, 3)
    geo.check(geo.from_astropy(table, _fields(table)))


def test_local_query_gives_null_geometry_values(catalog):
    targets = Table({name: MaskedColumn([0 if v is None else v for v in values],
                                        mask=[v is None for v in values])
                     for name, values in geo.UPLOAD_ROWS.items()})
    table = catalog.query(geo.NULLS, uploads={"targets": targets})
    assert list(table["g_point"].mask.all(axis=1)) == [False, True, True, False]
    geo.check(geo.from_astropy(table, _fields(table)))


def test_local_empty_geometry_result_keeps_shapes_and_units(catalog):
    table = catalog.query(EMPTY)
    assert len(table) == 0
    assert table["g_point"].shape == (0, 2)
    fields = _fields(table)
    for case in geo.CASES:
        geo.check_field(fields[case.name], case)
    assert np.issubdtype(table["g_distance"].dtype, np.floating)
