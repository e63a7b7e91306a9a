from engine.catalog import ColumnInfo, TableKind, TableManifest
from engine.tap_schema import adql_name, tap_schema_tables, votable_type


def _manifests():
    obj = TableManifest(
        name="dp1.object", kind=TableKind.POSITIONAL, nrows=10, description="objects",
        columns=(ColumnInfo("id", "int64", indexed=True, principal=True),
                 ColumnInfo("ra", "double", unit="deg", ucd="pos.eq.ra;meta.main"),
                 ColumnInfo("size", "float", unit="arcsec"),
                 ColumnInfo("name", "string", description="a name")),
        ra_column="ra", dec_column="dec", id_column="id",
    )
    src = TableManifest(
        name="dp1.source", kind=TableKind.CHILD, nrows=30,
        columns=(ColumnInfo("source_id", "int64"), ColumnInfo("object_id", "int64")),
        director="dp1.object", director_key="object_id",
    )
    return [obj, src]


def test_tables_lists_user_tables_and_tap_schema_itself():
    out = tap_schema_tables(_manifests())
    tables = out["tap_schema.tables"][0].to_pylist()
    names = [t["table_name"] for t in tables]
    assert names[:2] == ["dp1.object", "dp1.source"]
    assert {"tap_schema.schemas", "tap_schema.tables", "tap_schema.columns", "tap_schema.keys",
            "tap_schema.key_columns"} <= set(names)
    assert all(t["table_type"] == "table" for t in tables)
    assert [t["table_index"] for t in tables] == list(range(len(tables)))
    schemas = [s["schema_name"] for s in out["tap_schema.schemas"][0].to_pylist()]
    assert schemas == ["dp1", "tap_schema"]


def test_columns_carry_votable_types_units_and_flags():
    rows = tap_schema_tables(_manifests())["tap_schema.columns"][0].to_pylist()
    by = {(r["table_name"], r["column_name"]): r for r in rows}
    ra = by[("dp1.object", "ra")]
    assert (ra["datatype"], ra["unit"], ra["ucd"], ra["std"]) == ("double", "deg",
                                                                  "pos.eq.ra;meta.main", 0)
    name = by[("dp1.object", "name")]
    assert (name["datatype"], name["arraysize"], name["description"]) == ("char", "*", "a name")
    assert by[("dp1.object", "id")]["indexed"] == 1
    assert by[("dp1.object", "id")]["principal"] == 1
    # reserved words are listed delimited, as ADQL must write them
    assert ("dp1.object", '"size"') in by
    assert ("tap_schema.columns", '"size"') in by
    assert by[("tap_schema.columns", "column_index")]["std"] == 1
    assert [r["column_index"] for r in rows if r["table_name"] == "dp1.object"] == [0, 1, 2, 3]


def test_child_table_gets_a_foreign_key_to_its_director():
    out = tap_schema_tables(_manifests())
    keys = {k["key_id"]: k for k in out["tap_schema.keys"][0].to_pylist()}
    fk = [k for k in keys.values() if k["from_table"] == "dp1.source"]
    assert len(fk) == 1
    assert fk[0]["target_table"] == "dp1.object"
    cols = [c for c in out["tap_schema.key_columns"][0].to_pylist()
            if c["key_id"] == fk[0]["key_id"]]
    assert cols == [{"key_id": fk[0]["key_id"], "from_column": "object_id",
                     "target_column": "id"}]
    # TAP_SCHEMA's own links are keys too (taplint checks them)
    assert any(k["from_table"] == "tap_schema.columns" for k in keys.values())


def test_column_metadata_matches_data_columns():
    for (data, cols, desc) in tap_schema_tables(_manifests()).values():
        assert data.column_names == [c.name for c in cols]
        assert desc


def test_votable_type_mapping():
    assert votable_type("int8") == ("short", None, None)
    assert votable_type("uint8") == ("unsignedByte", None, None)
    assert votable_type("bool") == ("boolean", None, None)
    assert votable_type("float") == ("float", None, None)
    assert votable_type("large_string") == ("char", "*", None)
    assert votable_type("list<item: double>", "polygon") == ("double", "*", "polygon")
    assert votable_type("fixed_size_list<element: double>[3]", "circle") == ("double", "3",
                                                                             "circle")
    assert adql_name("select") == '"select"'
    assert adql_name("Mixed Case") == '"Mixed Case"'
