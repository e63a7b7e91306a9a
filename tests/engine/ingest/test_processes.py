"""The ingest's worker processes: Arrow threads per worker, and the HATS metadata process."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

from engine.ingest import pipeline, processes
from engine.sky.healpix import spatial_index


@pytest.fixture(scope="module")
def pool():
    """Two real spawned workers, as an ingest with ``workers=2`` makes them."""
    with pipeline.make_pool(2) as made:
        yield made


def test_workers_get_their_share_of_the_cores(pool) -> None:
    counts = {pool.submit(pa.cpu_count).result() for _ in range(4)}
    assert counts == {processes.arrow_threads(2)}
    assert processes.arrow_threads(2, cpus=16) == 8
    assert processes.arrow_threads(16, cpus=16) == 1
    assert processes.arrow_threads(32, cpus=16) == 1


def test_workers_place_rows_as_this_process_without_plotting(pool) -> None:
    rng = np.random.default_rng(8)
    ra, dec = rng.uniform(0, 360, 10_000), rng.uniform(-90, 90, 10_000)
    there = pool.submit(spatial_index, ra, dec).result()
    np.testing.assert_array_equal(there, spatial_index(ra, dec))
    # healpy in the workers, without matplotlib (which it imports only for its plots)
    assert pool.submit(eval, "__import__('sys').modules.get('matplotlib', 0)").result() is None


def test_metadata_runs_in_a_process_of_its_own(pool) -> None:
    workers = {pool.submit(os.getpid).result() for _ in range(4)}
    with processes.MetadataProcess(pool) as metadata:
        where = metadata.submit(os.getpid).result()
        assert metadata.submit(processes.import_hats).result() is None
    assert where != os.getpid()
    assert where not in workers


def test_metadata_without_a_process_pool_runs_in_the_pool(pool) -> None:
    with processes.MetadataProcess(pipeline.InlineExecutor()) as metadata:
        assert metadata.submit(os.getpid).result() == os.getpid()
    workers = {pool.submit(os.getpid).result() for _ in range(4)}
    with processes.MetadataProcess(pool, needed=False) as metadata:
        assert metadata.submit(os.getpid).result() in workers
