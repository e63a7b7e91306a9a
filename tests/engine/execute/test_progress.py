"""A running query reports chunks done of chunks total, and cancelling it stops its tasks.

Real threads (the local executor) and real dask worker processes; no sleeps, only polls
with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.small_sky import make_small_sky
from tests.support.waiting import poll

ADQL = "SELECT id, ra, dec FROM sky.object"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.ingest.api import ingest_files

    root = tmp_path_factory.mktemp("progress")
    make_small_sky(root / "obj.parquet", n=2000, seed=5)
    ingest_files(root / "data", "sky.object", [root / "obj.parquet"], ra="ra", dec="dec",
                 id_column="id", max_rows_per_partition=60, progress=False)
    return root / "data"


@pytest.fixture
def engine(data_dir: Path) -> Iterator[object]:
    from engine.api import Engine, EngineOptions

    # One thread, one partition per task: the bounded hand-off queue fills after a few
    # tasks, so most tasks are still waiting when the reader stops.
    eng = Engine.open(data_dir, EngineOptions(workers=1, rows_per_task=1))
    yield eng
    eng.close()


def test_finished_query_reports_every_chunk_done_and_its_rows(engine) -> None:
    result = engine.query(ADQL)
    before = result.progress.snapshot()
    assert before.chunks_done == 0
    assert before.chunks_total == sum(max(1, len(t.chunks)) for t in result.plan.tasks)
    assert len(result.plan.tasks) > 10
    table = result.to_table()
    after = result.progress.snapshot()
    assert (after.chunks_done, after.tasks_running) == (after.chunks_total, 0)
    assert after.fraction == 1.0
    assert after.rows == table.num_rows == 2000


def test_cancel_stops_the_thread_tasks_not_yet_run(engine) -> None:
    result = engine.query(ADQL)
    batches = result.batches()
    first = next(batches)
    assert first.num_rows > 0
    # The worker counts a task once its last batch is handed over; then it runs on until
    # the bounded queue is full and waits for the reader, far from the last task.
    assert poll(lambda: result.progress.snapshot().chunks_done > 0)
    mid = result.progress.snapshot()
    assert 0 < mid.chunks_done < mid.chunks_total
    result.cancel()
    batches.close()
    assert poll(lambda: result.progress.snapshot().tasks_running == 0)
    stopped = result.progress.snapshot().chunks_done
    assert stopped < mid.chunks_total
    # The pool runs tasks in order: a later query completing means every task of the
    # cancelled one has left the pool, and none of them ran to the end meanwhile.
    assert engine.query("SELECT COUNT(id) AS n FROM sky.object").to_table()["n"][0].as_py() \
        == 2000
    assert result.progress.snapshot().chunks_done == stopped


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


def test_dask_query_reports_progress_and_cancel_drops_its_worker_tasks(data_dir, cluster
                                                                        ) -> None:
    from engine.api import Engine, EngineOptions

    eng = Engine.open(data_dir, EngineOptions(rows_per_task=1,
                                              dask_address=cluster.scheduler_address))
    try:
        done = eng.query(ADQL)
        assert done.to_table().num_rows == 2000
        snap = done.progress.snapshot()
        assert snap.chunks_done == snap.chunks_total > 10

        result = eng.query(ADQL)
        batches = result.batches()
        next(batches)
        assert result.progress.snapshot().chunks_done < snap.chunks_total
        result.cancel()
        batches.close()
        client = eng._executor.client

        def scheduler_idle() -> bool:
            return client.run_on_scheduler(
                lambda dask_scheduler: len(dask_scheduler.tasks)) == 0

        assert poll(scheduler_idle), "the cancelled query's tasks stayed on the cluster"
        assert result.progress.snapshot().tasks_running == 0
        assert result.progress.snapshot().chunks_done < snap.chunks_total
    finally:
        eng.close()
