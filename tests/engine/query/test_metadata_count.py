"""``SELECT COUNT(*) FROM t`` from recorded row counts: the same answer as a scan, no file read.

Every answer is checked against the oracle (DuckDB over the raw files) or, for tables the
oracle lacks (TAP_SCHEMA, an attached catalog), against the same count forced through a
scan (a WHERE that keeps every row).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.api import Engine
from engine.catalog import read_table
from engine.ingest.api import attach_hats, ingest_files
from tests.support.small_sky import make_small_sky

from .oracle import assert_same_result, rows_of, run_oracle

PUBLISHED = ["sky.object", "sky.source", "sky.src", "sky.other", "sky.flagdefs"]
TAP_SCHEMA = ["tap_schema.schemas", "tap_schema.tables", "tap_schema.columns",
              "tap_schema.keys", "tap_schema.key_columns"]

SHAPES = [
    "SELECT COUNT(*) AS n FROM {t}",
    "SELECT COUNT(*) FROM {t}",
    "SELECT TOP 1 COUNT(*) AS n FROM {t} AS x",
    "SELECT TOP 0 COUNT(*) AS n FROM {t}",
    "SELECT COUNT(*) AS a, COUNT(*) AS b FROM {t}",
    "SELECT COUNT(*) AS n FROM {t} OFFSET 1",
]

SCANNED = [
    "SELECT COUNT(*) AS n FROM sky.object WHERE flags >= 0",
    "SELECT COUNT(z_mag) AS n FROM sky.object",
    "SELECT COUNT(*) AS n FROM sky.object GROUP BY flags",
    "SELECT COUNT(*) + 1 AS n FROM sky.object",
    "SELECT COUNT(*) AS n, MIN(id) AS m FROM sky.object",
    "SELECT COUNT(*) AS n FROM sky.object o JOIN sky.source s ON o.id = s.object_id",
    "SELECT COUNT(*) AS n FROM (SELECT TOP 50 id FROM sky.object) t",
    "SELECT DISTINCT COUNT(*) AS n FROM sky.object",
    "SELECT COUNT(*) AS n FROM sky.object HAVING COUNT(*) > 5",
    "SELECT COUNT(*) AS n FROM sky.object WHERE "
    "1 = CONTAINS(POINT(ra, dec), CIRCLE(0.0, 0.0, 180.0))",
]


@pytest.mark.parametrize("table", PUBLISHED)
@pytest.mark.parametrize("shape", SHAPES)
def test_count_of_a_published_table_matches_the_oracle(
        engine: Engine, oracle: duckdb.DuckDBPyConnection, table: str, shape: str) -> None:
    adql = shape.format(t=table)
    plan = engine.plan(adql)
    assert plan.mode == "metadata"
    assert not any(t.chunks for t in plan.tasks)
    assert "read_parquet" not in plan.tasks[0].sql.lower()
    assert_same_result(rows_of(engine.query(adql).to_table()), run_oracle(oracle, adql),
                       ordered=False)


@pytest.mark.parametrize("table", TAP_SCHEMA)
def test_count_of_tap_schema_matches_a_scan(engine: Engine, table: str) -> None:
    plan = engine.plan(f"SELECT COUNT(*) AS n FROM {table}")
    assert plan.mode == "metadata"
    counted = engine.query(f"SELECT COUNT(*) AS n FROM {table}").to_table()
    scanned = engine.query(f"SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1").to_table()
    assert engine.plan(f"SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1").mode != "metadata"
    assert counted.to_pylist() == scanned.to_pylist()
    assert counted.column("n")[0].as_py() > 0


def test_count_of_an_upload_is_its_rows(engine: Engine) -> None:
    upload = pa.table({"x": list(range(17))})
    result = engine.query("SELECT COUNT(*) AS n FROM tap_upload.mine", uploads={"mine": upload})
    assert result.plan.mode == "metadata"
    assert result.to_table().to_pylist() == [{"n": 17}]


@pytest.mark.parametrize("adql", SCANNED)
def test_counts_that_depend_on_the_rows_are_scanned(
        engine: Engine, oracle: duckdb.DuckDBPyConnection, adql: str) -> None:
    assert engine.plan(adql).mode != "metadata"
    assert_same_result(rows_of(engine.query(adql).to_table()), run_oracle(oracle, adql),
                       ordered=False)


def test_count_column_keeps_the_bigint_type_and_explains(engine: Engine) -> None:
    result = engine.query("SELECT COUNT(*) AS n FROM sky.object")
    assert result.schema.field("n").type == pa.int64()
    text = result.plan.explain()
    assert "mode: metadata" in text and "chunks: 0 of" in text


@pytest.mark.parametrize("table", PUBLISHED)
def test_recorded_row_count_is_the_sum_of_the_partitions(data_dir: Path, table: str) -> None:
    published = read_table(data_dir, table)
    assert published is not None
    manifest = published.manifest
    if manifest.partitions:
        assert manifest.nrows == sum(p.nrows for p in manifest.partitions)
        on_disk = sum(pq.ParquetFile(published.resolve(p.path)).metadata.num_rows
                      for p in manifest.partitions)
    else:
        on_disk = sum(pq.ParquetFile(published.resolve(f)).metadata.num_rows
                      for f in manifest.regular_files)
    assert manifest.nrows == on_disk


def _write(path: Path, rows: pa.Table) -> str:
    pq.write_table(rows, path)
    return str(path)


def test_count_follows_appends(tmp_path: Path) -> None:
    raw = pq.read_table(make_small_sky(tmp_path / "sky.parquet", n=600, seed=3))
    data = tmp_path / "data"
    first = _write(tmp_path / "a.parquet", raw.slice(0, 250))
    second = _write(tmp_path / "b.parquet", raw.slice(250))
    regular = pa.table({"k": np.arange(9)})
    eng = Engine.open(data)
    try:
        ingest_files(data, "t.pos", [first], ra="ra", dec="dec", id_column="id",
                     max_rows_per_partition=80, progress=False)
        ingest_files(data, "t.reg", [_write(tmp_path / "r1.parquet", regular)], progress=False)
        counts = {t: eng.query(f"SELECT COUNT(*) AS n FROM {t}").to_table() for t in
                  ("t.pos", "t.reg")}
        assert counts["t.pos"].to_pylist() == [{"n": 250}]
        assert counts["t.reg"].to_pylist() == [{"n": 9}]
        ingest_files(data, "t.pos", [second], ra="ra", dec="dec", id_column="id",
                     max_rows_per_partition=80, progress=False)
        ingest_files(data, "t.reg", [_write(tmp_path / "r2.parquet", regular.slice(0, 4))],
                     progress=False)
        for table, want in (("t.pos", 600), ("t.reg", 13)):
            plan = eng.plan(f"SELECT COUNT(*) AS n FROM {table}")
            assert plan.mode == "metadata"
            got = eng.query(f"SELECT COUNT(*) AS n FROM {table}").to_table().to_pylist()
            scanned = eng.query(f"SELECT COUNT(*) AS n FROM {table} WHERE 1 = 1").to_table()
            assert got == scanned.to_pylist() == [{"n": want}]
    finally:
        eng.close()


def test_count_of_an_attached_hats_catalog_matches_a_scan(tmp_path: Path) -> None:
    lsdb = pytest.importorskip("lsdb")
    raw = pq.read_table(make_small_sky(tmp_path / "sky.parquet", n=900, seed=4))
    catalog = lsdb.from_dataframe(raw.to_pandas(), ra_column="ra", dec_column="dec",
                                  catalog_name="ext", partition_rows=100)
    catalog.write_catalog(tmp_path / "hats", as_collection=False)
    data = tmp_path / "data"
    attach_hats(data, "ext.sky", tmp_path / "hats")
    eng = Engine.open(data)
    try:
        assert eng.plan("SELECT COUNT(*) AS n FROM ext.sky").mode == "metadata"
        counted = eng.query("SELECT COUNT(*) AS n FROM ext.sky").to_table().to_pylist()
        scanned = eng.query("SELECT COUNT(*) AS n FROM ext.sky WHERE 1 = 1").to_table()
        assert counted == scanned.to_pylist() == [{"n": raw.num_rows}]
        hats = pytest.importorskip("hats")
        assert hats.read_hats(tmp_path / "hats").catalog_info.total_rows == raw.num_rows
    finally:
        eng.close()
