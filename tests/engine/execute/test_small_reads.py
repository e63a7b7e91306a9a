"""Small reads on a freshly ingested table: page-indexed partitions and a fine id index.

Id lookups and small cones read a few pages of one row group (DuckDB's page index) and one
32,768-row group of the id index; their answers must be exactly what a scan of the
published files gives.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import qserv_access
from engine import id_index
from engine.api import Engine
from engine.catalog import PARTITION_PAGE_ROWS, PARTITION_ROW_GROUP_ROWS

ROWS = 300_000
COLUMNS = ["id", "ra", "dec", "mag_r", "flags"]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Engine, pa.Table, Path]]:
    """300,000 synthetic rows ingested; the engine, every row (from the files), the table dir."""
    data_dir = tmp_path_factory.mktemp("small_reads")
    qserv_access.ingest(data_dir, "sim.object", qserv_access.synthetic_source(ROWS, seed=11),
                        ra="ra", dec="dec", id_column="id", workers=1)
    table_dir = next((data_dir / "tables" / "sim.object").glob("v*"))
    files = sorted((table_dir / "catalog" / "object" / "dataset").rglob("*.parquet"))
    rows = pa.concat_tables([pq.read_table(f, columns=COLUMNS) for f in files])
    engine = Engine.open(data_dir)
    yield engine, rows, table_dir
    engine.close()


def test_partitions_carry_a_page_index_in_small_pages(
        published: tuple[Engine, pa.Table, Path]) -> None:
    _, rows, table_dir = published
    files = sorted((table_dir / "catalog" / "object" / "dataset").rglob("*.parquet"))
    assert files and rows.num_rows == ROWS
    big = max(files, key=lambda f: pq.read_metadata(f).num_rows)
    meta = pq.read_metadata(big)
    assert meta.num_rows > PARTITION_PAGE_ROWS  # else no page could be skipped here
    for g in range(meta.num_row_groups):
        assert meta.row_group(g).num_rows <= PARTITION_ROW_GROUP_ROWS
        for c in range(meta.num_columns):
            column = meta.row_group(g).column(c)
            assert column.has_offset_index, (big, g, column.path_in_schema)
    hp = meta.row_group(0).column(meta.schema.names.index("_healpix_29"))
    assert hp.has_column_index  # the min/max per page that a range filter prunes with


def test_id_lookups_match_the_files(published: tuple[Engine, pa.Table, Path]) -> None:
    engine, rows, table_dir = published
    index = pq.ParquetFile(table_dir / "id_index.parquet")
    assert index.metadata.num_row_groups >= 2
    assert all(index.metadata.row_group(g).num_rows <= 32_768
               for g in range(index.metadata.num_row_groups))
    # The first and last id of every row group of the index, some at random, some absent.
    edges = []
    for g in range(index.metadata.num_row_groups):
        stats = index.metadata.row_group(g).column(0).statistics
        edges += [stats.min, stats.max]
    rng = random.Random(4)
    for wanted in [*edges, *rng.sample(range(ROWS), 8), -1, ROWS + 5]:
        got = engine.query(f"SELECT id, ra, dec, mag_r, flags FROM sim.object "
                           f"WHERE id = {wanted}").to_table()
        expected = rows.filter(pc.equal(rows["id"], wanted))
        assert got.to_pylist() == expected.to_pylist(), wanted
    several = sorted(rng.sample(range(ROWS), 40))
    got = engine.query("SELECT id, ra FROM sim.object WHERE id IN ("
                       + ", ".join(map(str, several)) + ")").to_table()
    assert sorted(got["id"].to_pylist()) == several


def test_small_cones_match_a_scan(published: tuple[Engine, pa.Table, Path]) -> None:
    engine, rows, _ = published
    ra, dec = rows["ra"].to_numpy(), rows["dec"].to_numpy()
    rng = random.Random(9)
    for radius in (1 / 60, 0.2, 1.0):
        for _ in range(4):
            centre = rng.randrange(ROWS)
            ra0, dec0 = float(ra[centre]), float(dec[centre])
            got = engine.query(
                "SELECT id FROM sim.object WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
                f"CIRCLE('ICRS', {ra0!r}, {dec0!r}, {radius!r}))").to_table()
            expected = rows["id"].to_numpy()[_within(ra, dec, ra0, dec0, radius)]
            assert sorted(got["id"].to_pylist()) == sorted(expected.tolist()), (ra0, dec0)


def _within(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float,
            radius: float) -> np.ndarray:
    """Rows within ``radius`` deg of (ra0, dec0): the haversine, as ADQL's CONTAINS."""
    r, d = np.radians(ra), np.radians(dec)
    r0, d0 = np.radians(ra0), np.radians(dec0)
    hav = np.sin((d0 - d) / 2) ** 2 + np.cos(d) * np.cos(d0) * np.sin((r0 - r) / 2) ** 2
    return hav <= np.sin(np.radians(radius) / 2) ** 2


def test_lookups_over_too_many_index_rows_fall_back_to_a_query(
        published: tuple[Engine, pa.Table, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, rows, table_dir = published
    path = str(table_dir / "id_index.parquet")
    monkeypatch.setattr(id_index, "MAX_ROWS", 40_000)  # more than one 32,768-row group
    assert id_index.lookup(path, "id", [5, 6]) is not None  # one row group
    spread = [5, ROWS // 2, ROWS - 5]  # three row groups: the index is read by a query
    assert id_index.lookup(path, "id", list[int | str](spread)) is None
    got = engine.query("SELECT id, ra FROM sim.object WHERE id IN "
                       f"({', '.join(map(str, spread))})").to_table()
    expected = rows.filter(pc.is_in(rows["id"], pa.array(spread))).select(["id", "ra"])
    assert sorted(got.to_pylist(), key=repr) == sorted(expected.to_pylist(), key=repr)
