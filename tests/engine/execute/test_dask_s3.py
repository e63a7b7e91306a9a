"""A catalog on an S3-compatible object store (moto's server on loopback), queried through
dask workers and in-process: the same rows as from the local folder it was uploaded from."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.small_sky import make_small_sky

distributed = pytest.importorskip("distributed")
moto_server = pytest.importorskip("moto.server")
s3fs = pytest.importorskip("s3fs")

from engine.api import Engine, EngineOptions  # noqa: E402
from engine.errors import CatalogError  # noqa: E402

QUERIES = [  # margins and joins read the same way; the local differential suite has them
    "SELECT flags, COUNT(*) AS n, AVG(g_mag) AS m FROM sky.object GROUP BY flags",
    "SELECT id FROM sky.object WHERE CONTAINS(POINT(ra, dec), CIRCLE(150, 2, 0.3)) = 1",
    "SELECT TOP 7 id, dec FROM sky.object ORDER BY dec DESC, id",
]
BUCKET = "qsa-test"
# The engine mirrors a catalog's metadata under the system temp folder, keyed by its URL: a
# prefix of its own keeps concurrent runs (xdist workers, other checkouts) off each other's.
CATALOG = f"cat-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on 127.0.0.1 (a free port), with one bucket; its fsspec options."""
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                 aws_secret_access_key="test", region_name="us-east-1"
                 ).create_bucket(Bucket=BUCKET)
    yield {"key": "test", "secret": "test",
           "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
    server.stop()


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, s3) -> Iterator[tuple[Path, str]]:
    """A small ingested catalog, in a local folder and uploaded to the bucket."""
    from engine.ingest.api import ingest_files

    root = tmp_path_factory.mktemp("s3cat")
    make_small_sky(root / "obj.parquet", n=2000, seed=5)
    ingest_files(root / "data", "sky.object", [root / "obj.parquet"], ra="ra", dec="dec",
                 id_column="id", max_rows_per_partition=1000, progress=False)
    fs = s3fs.S3FileSystem(**s3)
    fs.put(str(root / "data" / "tables"), f"{BUCKET}/{CATALOG}/tables", recursive=True)
    url = f"s3://{BUCKET}/{CATALOG}"
    yield root / "data", url
    from engine.storage import mirror_metadata

    shutil.rmtree(mirror_metadata(url, s3).local_root)  # the engine's metadata copy


def _rows(table) -> list[tuple]:
    return sorted(tuple(round(v, 9) if isinstance(v, float) else v for v in row.values())
                  for row in table.to_pylist())


@pytest.mark.parametrize("on_cluster", [True, False], ids=["dask", "in-process"])
def test_catalog_on_s3_gives_the_local_rows(catalog, s3, dask_cluster, on_cluster) -> None:
    local_dir, url = catalog
    local = Engine.open(local_dir, EngineOptions(workers=2))
    options = EngineOptions(workers=2, rows_per_task=300, storage_options=s3,
                            dask_address=dask_cluster.scheduler_address if on_cluster else None,
                            dask_inline_max_rows=0)
    remote = Engine.open(url, options)
    try:
        assert remote.location is not None and remote.location.url == url
        for adql in QUERIES:
            plan = remote.plan(adql)
            if on_cluster:
                assert "runs: dask cluster" in plan.explain(), adql
                assert len(plan.tasks) > 1 or "CIRCLE(150" in adql, adql
            assert all(url + "/" in t.sql for t in map(remote.location.task_to_url, plan.tasks)
                       if "read_parquet" in t.sql), adql
            got = remote.query(adql).to_table()
            expected = local.query(adql).to_table()
            assert got.column_names == expected.column_names, adql
            assert got.num_rows > 0, adql
            assert _rows(got) == _rows(expected), adql
    finally:
        local.close()
        remote.close()


def test_url_database_reads_only_the_catalog_prefix(catalog, s3) -> None:
    import duckdb

    from engine.storage import mirror_metadata, open_url_database

    _, url = catalog
    location = mirror_metadata(url, s3)
    con = open_url_database(location)
    fs = s3fs.S3FileSystem(**s3)
    inside = fs.find(f"{BUCKET}/{CATALOG}/tables")[0]
    fs.copy(inside, f"{BUCKET}/elsewhere/x.parquet")
    for outside in (f"s3://{BUCKET}/elsewhere/x.parquet", "/etc/passwd"):
        with pytest.raises(duckdb.PermissionException):
            con.sql(f"SELECT * FROM read_csv('{outside}')").fetchall()
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")


def test_url_without_catalog_is_a_clear_error(s3) -> None:
    with pytest.raises(CatalogError, match="No catalog at s3://qsa-test/nothing"):
        Engine.open(f"s3://{BUCKET}/nothing", EngineOptions(storage_options=s3))
