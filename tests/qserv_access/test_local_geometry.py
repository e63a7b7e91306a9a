"""The embedded client reads geometry results from the engine's result schema."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io.votable import parse
from astropy.table import MaskedColumn, Table

from tests.support import geometry_cases as geo

ROOT = Path(__file__).resolve().parents[2]

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


def _run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "qserv_access.cli", "query", *args],
                          capture_output=True, cwd=ROOT, env=env, timeout=120)


@pytest.mark.parametrize("fmt", ["csv", "json", "votable", "parquet"])
def test_cli_query_writes_geometry_columns(sky_dir, tmp_path, fmt):
    out = tmp_path / f"result.{fmt}"
    proc = _run_cli("--data-dir", str(sky_dir), "--format", fmt, "--output", str(out), WIDE)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    if fmt == "csv":
        rows = list(csv.reader(out.open()))
        cells = [[json.loads(c) if c.startswith("[") else (None if c == "" else c) for c in r]
                 for r in rows[1:]]
        read = geo.from_rows(rows[0], cells)
    elif fmt == "json":
        doc = json.loads(out.read_text())
        read = geo.from_rows([c["name"] for c in doc["columns"]], doc["data"])
    elif fmt == "votable":
        vot = parse(str(out))
        read = geo.from_astropy(vot.get_first_table().to_table(), geo.votable_fields(vot))
    else:
        table = Table.read(out, format="parquet")
        assert table["g_point"].shape == (40, 2)
        read = geo.from_astropy(table)
    assert len(read.values["k"]) == 40
    geo.check(read)
