"""Ingest through a real dask LocalCluster (2 worker processes) matches the local ingest.

The same inputs (the small sky with its poles, seam and dense cluster, in two files; then
a child table placed with its rows) are ingested in this process
(``workers=1``) and on the cluster, through the Python API with a ``Client`` and through
``qserv-access ingest --dask ADDRESS``; and a replayable stream. The published versions
must hold the same rows, partitions, margins and id index, in byte-identical files.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalog import PublishedTable, read_table
from engine.errors import IngestError
from engine.ingest.api import ingest_batches, ingest_files
from engine.ingest.synthetic import synthetic_source
from tests.support.small_sky import make_small_sky, make_small_sources

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[3]
CLI = Path(sys.executable).parent / "qserv-access"


def _objects(data: Path, files: list[str], **where: Any) -> None:
    """Ingest the object files (locally with ``workers=``, or with ``dask=``)."""
    ingest_files(data, "s.object", files, ra="ra", dec="dec", id_column="id",
                 max_rows_per_partition=700, progress=False, **where)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    sky = make_small_sky(root / "all.parquet", n=8_000, seed=1)
    sources = make_small_sources(root / "sources.parquet", sky, per_object=2)
    rows = pq.read_table(sky)
    halves = [root / "sky.parquet", root / "more.parquet"]  # two input files
    pq.write_table(rows.slice(0, 5_000), halves[0])
    pq.write_table(rows.slice(5_000), halves[1])
    return [str(p) for p in halves], str(sources)


def _both(data: Path, objects: list[str], sources: str, **where: Any) -> None:
    _objects(data, objects, **where)
    ingest_files(data, "s.source", [sources], ra="ra", dec="dec", director="s.object",
                 director_key="object_id", progress=False, **where)


@pytest.fixture(scope="module")
def local(inputs, tmp_path_factory):
    data = tmp_path_factory.mktemp("local")
    _both(data, inputs[0], inputs[1], workers=1)
    return data


@pytest.fixture(scope="module")
def on_dask(inputs, client, tmp_path_factory):
    data = tmp_path_factory.mktemp("dask")
    _both(data, inputs[0], inputs[1], dask=client)
    return data


def _published(data: Path, table: str) -> PublishedTable:
    found = read_table(data, table)
    assert found is not None, f"{table} not published in {data}"
    return found


def _files(found: PublishedTable) -> dict[str, bytes]:
    return {str(p.relative_to(found.root)): p.read_bytes()
            for p in sorted(found.root.rglob("*")) if p.is_file() and p.name != "table.json"}


def _rows(found: PublishedTable, key: str) -> pa.Table:
    parts = [pq.read_table(found.resolve(p.path)) for p in found.manifest.partitions]
    return pa.concat_tables(parts).sort_by(key)


def _comparable(found: PublishedTable) -> object:
    m = found.manifest
    return dataclasses.replace(m, created="", extra={}, ingested_files=tuple(
        (f.sha256, f.rows) for f in m.ingested_files))


@pytest.mark.parametrize(("table", "key"), [("s.object", "id"), ("s.source", "source_id")])
def test_same_rows_partitions_and_files(local, on_dask, table, key):
    here, there = _published(local, table), _published(on_dask, table)
    assert here.manifest.nrows > 0
    assert _comparable(there) == _comparable(here)  # partitions, counts, margins, columns
    assert _rows(there, key).equals(_rows(here, key))
    assert there.root.joinpath("catalog").is_dir()
    theirs, ours = _files(there), _files(here)
    assert sorted(theirs) == sorted(ours)
    assert any(name.endswith("partition_info.csv") for name in ours)
    different = [name for name in ours if theirs[name] != ours[name]]
    assert not different, f"files differ between the local and the dask ingest: {different}"


def test_same_id_index(local, on_dask):
    here, there = _published(local, "s.object"), _published(on_dask, "s.object")
    assert here.manifest.id_index == there.manifest.id_index == "id_index.parquet"
    ours = pq.read_table(here.resolve("id_index.parquet"))
    assert ours.num_rows == here.manifest.nrows
    assert pq.read_table(there.resolve("id_index.parquet")).equals(ours)


def test_no_staging_left_behind(on_dask):
    staging = on_dask / "staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_cli_dask_address(inputs, local, client, tmp_path):
    """``qserv-access ingest --dask tcp://...`` (relative paths, from another folder)."""
    work = tmp_path / "work"
    work.mkdir()
    for path in inputs[0]:
        shutil.copy(path, work)
    done = subprocess.run(
        [str(CLI), "ingest", "--data-dir", "data", "--table", "s.object", "--ra", "ra",
         "--dec", "dec", "--id", "id", "--max-rows-per-partition", "700", "--no-progress",
         "--dask", client.scheduler.address, "sky.parquet", "more.parquet"],
        cwd=work, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "s.object v1 (positional): 8,000 rows" in done.stdout
    here, there = _published(local, "s.object"), _published(work / "data", "s.object")
    assert [dataclasses.astuple(p) for p in there.manifest.partitions] == [
        dataclasses.astuple(p) for p in here.manifest.partitions]
    assert _rows(there, "id").equals(_rows(here, "id"))


def test_workers_and_dask_are_exclusive(inputs, client, tmp_path):
    with pytest.raises(IngestError, match=r"workers .* or dask .*not both"):
        _objects(tmp_path, inputs[0], workers=2, dask=client)
    assert not (tmp_path / "tables").exists()


def test_unreachable_scheduler(inputs, tmp_path, monkeypatch):
    monkeypatch.setattr("engine.ingest.cluster.CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(IngestError, match=re.escape("Cannot reach the dask scheduler at tcp://127.0.0.1:9")):
        _objects(tmp_path, inputs[0], dask="tcp://127.0.0.1:9")
    assert read_table(tmp_path, "s.object") is None


def _blind_worker(scheduler: str, hidden: Path) -> subprocess.Popen[bytes]:
    """Start a dask worker in its own mount namespace, where ``hidden`` is an empty tmpfs:
    a worker that does not share this process's filesystem."""
    script = (f"mount -t tmpfs none {hidden} && exec {sys.executable} -m distributed.cli."
              f"dask_worker {scheduler} --nthreads 1 --dashboard-address 127.0.0.1:0 "
              "--name blind")
    return subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                             script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_worker_without_the_data_dir(inputs, tmp_path):
    """A worker that cannot see the data directory stops the ingest before pass 1, with a
    message naming the worker and the path; nothing is published or left staged."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to give a worker its own mount namespace")
    hidden = tmp_path / "shared"
    data = hidden / "data"
    data.mkdir(parents=True)
    with distributed.LocalCluster(n_workers=0, processes=True,
                                  dashboard_address="127.0.0.1:0") as cl, \
            distributed.Client(cl, set_as_default=False) as c:
        with pytest.raises(IngestError, match="has no workers"):
            _objects(data, inputs[0], dask=c)
        worker = _blind_worker(cl.scheduler_address, hidden)
        try:
            deadline = time.monotonic() + 60
            while not c.nthreads():
                if worker.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("the namespaced worker did not start: "
                                + (worker.stderr.read().decode()[-500:] if worker.stderr
                                   else ""))
                time.sleep(0.2)
            address = next(iter(c.nthreads()))
            with pytest.raises(IngestError) as err:
                _objects(data, inputs[0], dask=c)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    message = str(err.value)
    assert f"dask worker {address} cannot use {data}/staging/" in message
    assert "No such file or directory" in message
    assert "mount that filesystem on every worker" in message
    assert read_table(data, "s.object") is None
    assert not any((data / "staging").iterdir())


def test_stream_through_dask(client, tmp_path):
    """A replayable stream's parts are generated by the workers themselves."""
    found = []
    for name, where in (("local", {"workers": 1}), ("dask", {"dask": client})):
        ingest_batches(tmp_path / name, "sim.obj", synthetic_source(6000, part_rows=1500),
                       ra="ra", dec="dec", id_column="id", max_rows_per_partition=1000,
                       progress=False, **where)
        found.append(_published(tmp_path / name, "sim.obj"))
    here, there = found
    assert here.manifest.nrows == 6000
    assert _comparable(there) == _comparable(here)
    assert _files(there) == _files(here)
