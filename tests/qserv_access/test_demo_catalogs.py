"""What `make demo` serves: the real catalogs with table descriptions, units and UCDs."""

from __future__ import annotations

import qserv_access
from qserv_access.demo_data import DEMO_TABLES


def test_every_demo_table_and_column_is_described(demo_dir):
    cat = qserv_access.connect(demo_dir)
    for name in DEMO_TABLES:
        info = cat.describe(name)
        assert len(info.description) > 40, name
        for column in info.columns:
            assert column.description, f"{name}.{column.name}"
            assert column.ucd, f"{name}.{column.name} has no UCD"


def test_tap_schema_publishes_the_descriptions(demo_dir):
    cat = qserv_access.connect(demo_dir)
    rows = cat.query("SELECT table_name, description FROM TAP_SCHEMA.tables")
    described = {str(r["table_name"]): str(r["description"]) for r in rows
                 if not str(r["table_name"]).lower().startswith("tap_schema.")}
    assert set(described) == set(DEMO_TABLES)
    assert "van Leeuwen 2007" in described["hip.main"]
    units = cat.query("SELECT column_name, unit, ucd FROM TAP_SCHEMA.columns "
                      "WHERE table_name = 'hip.main' AND column_name = 'pmra'")
    assert (units[0]["unit"], units[0]["ucd"]) == ("mas/yr", "pos.pm;pos.eq.ra")
