"""The dask executor gives the same rows as the threads, with real worker processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.small_sky import make_small_sky

distributed = pytest.importorskip("distributed")

QUERIES = [
    "SELECT COUNT(*) AS n, AVG(g_mag) AS m FROM sky.object",
    "SELECT flags, COUNT(*) AS n FROM sky.object GROUP BY flags",
    "SELECT TOP 7 id, dec FROM sky.object ORDER BY dec DESC, id",
    "SELECT id FROM sky.object WHERE CONTAINS(POINT(ra, dec), CIRCLE(150, 2, 0.3)) = 1",
    "SELECT a.id, b.id AS other FROM sky.object a JOIN sky.object b "
    "ON 1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 5/3600.)) WHERE a.id <> b.id",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.ingest.api import ingest_files

    root = tmp_path_factory.mktemp("dask")
    make_small_sky(root / "obj.parquet", n=2000, seed=5)
    ingest_files(root / "data", "sky.object", [root / "obj.parquet"], ra="ra", dec="dec",
                 id_column="id", max_rows_per_partition=250, progress=False)
    return root / "data"


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    return dask_cluster


def _rows(table) -> list[tuple]:
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row.values())
                  for row in table.to_pylist())


@pytest.mark.parametrize("adql", QUERIES)
def test_dask_workers_match_local_threads(data_dir: Path, cluster, adql: str) -> None:
    from engine.api import Engine, EngineOptions

    local = Engine.open(data_dir, EngineOptions(rows_per_task=300))
    remote = Engine.open(data_dir, EngineOptions(rows_per_task=300, dask_inline_max_rows=0,
                                                 dask_address=cluster.scheduler_address))
    try:
        plan = remote.plan(adql)
        assert len(plan.tasks) > 1, "the query should be split over several workers"
        assert "dask cluster" in plan.explain()
        expected = local.query(adql).to_table()
        got = remote.query(adql).to_table()
        assert got.column_names == expected.column_names
        assert _rows(got) == _rows(expected)
        assert got.num_rows > 0
    finally:
        local.close()
        remote.close()
