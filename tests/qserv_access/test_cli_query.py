import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from astropy.io.votable import parse_single_table

ROOT = Path(__file__).resolve().parents[2]
CONE = ("SELECT id, ra, dec, g_mag FROM sky.object "
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150, 2, 0.2))")


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "qserv_access.cli", "query", *args],
                          capture_output=True, cwd=ROOT, env=env, timeout=120)


@pytest.fixture(scope="module")
def expected_ids(catalog):
    return sorted(catalog.query(CONE)["id"].tolist())


def test_csv_to_stdout(sky_dir, expected_ids):
    proc = run_cli("--data-dir", str(sky_dir), CONE)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == '"id","ra","dec","g_mag"'
    assert sorted(int(line.split(",")[0]) for line in lines[1:]) == expected_ids


def test_json_has_column_metadata(sky_dir, expected_ids):
    proc = run_cli("--data-dir", str(sky_dir), "--format", "json", CONE)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["columns"][1] == {"name": "ra", "datatype": "double", "unit": "deg",
                                 "ucd": "pos.eq.ra;meta.main",
                                 "description": "Right ascension (ICRS)"}
    assert sorted(row[0] for row in doc["data"]) == expected_ids


def test_votable_to_file_has_units_and_ucds(sky_dir, tmp_path, expected_ids):
    out = tmp_path / "r.vot"
    proc = run_cli("--data-dir", str(sky_dir), "--format", "votable", "--output", str(out), CONE)
    assert proc.returncode == 0, proc.stderr
    table = parse_single_table(out)
    assert table.get_field_by_id("ra").unit == "deg"
    assert table.get_field_by_id("ra").ucd == "pos.eq.ra;meta.main"
    assert sorted(table.array["id"].tolist()) == expected_ids


def test_parquet_keeps_field_metadata(sky_dir, tmp_path, expected_ids):
    out = tmp_path / "r.parquet"
    proc = run_cli("--data-dir", str(sky_dir), "--format", "parquet", "-o", str(out), CONE)
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert table.schema.field("g_mag").metadata[b"unit"] == b"mag"
    assert sorted(table["id"].to_pylist()) == expected_ids


def test_maxrec_truncation_warns_on_stderr(sky_dir):
    proc = run_cli("--data-dir", str(sky_dir), "--maxrec", "5", "SELECT id FROM sky.object")
    assert proc.returncode == 0
    assert len(proc.stdout.decode().splitlines()) == 6
    assert "warning" in proc.stderr.decode() and "--maxrec 5" in proc.stderr.decode()


def test_bad_adql_exits_2_with_line_and_column_and_no_traceback(sky_dir):
    proc = run_cli("--data-dir", str(sky_dir), "SELECT id\nFROM sky.object WHERE")
    stderr = proc.stderr.decode()
    assert proc.returncode == 2
    assert "line 2, column" in stderr
    assert "Traceback" not in stderr
    assert proc.stdout == b""


def test_unknown_table_suggests_the_right_name(sky_dir):
    proc = run_cli("--data-dir", str(sky_dir), "SELECT * FROM sky.objet")
    assert proc.returncode == 2
    assert "sky.object" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def test_explain_prints_the_plan(sky_dir):
    proc = run_cli("--data-dir", str(sky_dir), "--explain", CONE)
    assert proc.returncode == 0, proc.stderr
    assert "chunks:" in proc.stdout.decode()


def test_missing_data_dir_is_an_error_not_an_empty_catalog(tmp_path):
    proc = run_cli("--data-dir", str(tmp_path / "typo"), "SELECT 1 FROM x.y")
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr.decode()
    assert not (tmp_path / "typo").exists()
