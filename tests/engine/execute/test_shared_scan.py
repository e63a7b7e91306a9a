"""Shared scans: concurrent full scans of one table read each partition once, and each
query's result is the one it gets alone (the unsharded oracle's).

Real threads, real DuckDB over real Parquet partitions. The scheduler's own counters (not a
mock) say how often each file was read and which queries each step served; its ``hold``
keeps the elevator still while the queries of a test attach, so no test sleeps or races.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from engine.api import Engine, EngineOptions
from engine.errors import (
    AdqlError,
    ChunkUnavailableError,
    EngineError,
    QueryCancelledError,
    UnknownTableError,
)
from engine.execute import shared_scan
from engine.execute.shared_scan import ScanScheduler
from tests.engine.query.cases import all_cases
from tests.engine.query.conftest import _objects
from tests.engine.query.oracle import assert_same_result, open_oracle, rows_of, run_oracle

TABLE = "sky.object"


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The differential tests' object table, unsharded."""
    return _objects(tmp_path_factory.mktemp("shared-raw") / "object.parquet")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, raw: Path) -> Path:
    from engine.ingest.api import ingest_files

    data = tmp_path_factory.mktemp("shared-data")
    ingest_files(data, TABLE, [str(raw)], ra="ra", dec="dec", id_column="id",
                 max_rows_per_partition=150, progress=False)
    return data


@pytest.fixture(scope="module")
def oracle(raw: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = open_oracle({TABLE: raw})
    yield con
    con.close()


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> Iterator[Engine]:
    """Many small tasks per scan (a table larger than one task, as at a billion rows)."""
    eng = Engine.open(data_dir, EngineOptions(rows_per_task=100, workers=2, shared_scans=True))
    _scans(eng).step_bytes = 40_000  # a few partitions a step: passes of several steps
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def one_task_engine(data_dir: Path) -> Iterator[Engine]:
    """Default task sizes: a scan of this table is one task."""
    eng = Engine.open(data_dir, EngineOptions(workers=2, shared_scans=True))
    _scans(eng).step_bytes = 40_000
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def unshared(data_dir: Path) -> Iterator[Engine]:
    eng = Engine.open(data_dir, EngineOptions(rows_per_task=100, workers=2,
                                              shared_scans=False))
    yield eng
    eng.close()


def _scans(engine: Engine) -> ScanScheduler:
    scans = engine._executor.scans  # type: ignore[union-attr]
    assert scans is not None
    return scans


def _poll(check: Callable[[], bool], deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


class Clients:
    """Queries running on their own threads, each keeping its result or its error."""

    def __init__(self, engine: Engine, adqls: Sequence[str]) -> None:
        self.results: list[Any] = [None] * len(adqls)
        self.cancels = [threading.Event() for _ in adqls]

        def client(i: int) -> None:
            try:
                self.results[i] = engine.query(adqls[i], cancel=self.cancels[i]).to_table()
            except EngineError as exc:
                self.results[i] = exc

        self.threads = [threading.Thread(target=client, args=(i,)) for i in range(len(adqls))]
        for thread in self.threads:
            thread.start()

    def join(self) -> list[Any]:
        for thread in self.threads:
            thread.join(60)
            assert not thread.is_alive()
        return self.results


def _together(engine: Engine, adqls: Sequence[str], riders: int | None = None) -> list[Any]:
    """Run ``adqls`` at once; the elevator starts when ``riders`` (all) are attached."""
    scans = _scans(engine)
    scans.hold()
    try:
        clients = Clients(engine, adqls)
        _poll(lambda: scans.riders(None) >= (riders or len(adqls)))
    finally:
        scans.release()
    return clients.join()


def _full_scan_cases(engine: Engine, count: int) -> list[Any]:
    """``count`` differential cases on the object table that ride a shared scan, spread
    over the collection (predicates, aggregates, ordering, TOP): each costs a pass."""
    cases = all_cases()
    chosen = []
    for case in cases[::7]:
        try:
            plan = engine.plan(case.adql)
        except UnknownTableError:
            continue
        if len(plan.tasks) > 1 and ScanScheduler.shareable(plan.tasks):
            chosen.append(case)
        if len(chosen) == count:
            break
    return chosen


AGGREGATES = [
    "SELECT flags, COUNT(*) AS n, AVG(g_mag) AS g FROM sky.object GROUP BY flags",
    "SELECT MIN(ra) AS lo, MAX(ra) AS hi, SUM(r_mag) AS r FROM sky.object WHERE dec > 0",
    "SELECT COUNT(z_mag) AS n, AVG(z_mag) AS z FROM sky.object",
    "SELECT id, name FROM sky.object WHERE g_mag - r_mag > 0.5",
]


def _step_reads(engine: Engine, before: int) -> tuple[dict[str, int], list[Any]]:
    stats = _scans(engine).stats()
    steps = list(stats.steps)[before:]
    reads: dict[str, int] = {}
    for step in steps:
        for path in step.files:
            reads[path] = reads.get(path, 0) + 1
    return reads, steps


def test_four_concurrent_scans_read_each_partition_once(engine: Engine, unshared: Engine
                                                        ) -> None:
    partitions = len(engine.table(TABLE).partitions)
    before = len(_scans(engine).stats().steps)
    got = _together(engine, AGGREGATES)
    reads, steps = _step_reads(engine, before)
    assert len(reads) == partitions and set(reads.values()) == {1}
    assert all(len(step.riders) == 4 and not step.whole_task for step in steps)
    for adql, table in zip(AGGREGATES, got, strict=True):
        assert_same_result(rows_of(table), rows_of(unshared.query(adql).to_table()))


def test_concurrent_differential_cases_match_the_unsharded_oracle(
        engine: Engine, oracle: duckdb.DuckDBPyConnection) -> None:
    cases = _full_scan_cases(engine, 8)
    assert len(cases) == 8
    for group in (cases[i:i + 4] for i in range(0, len(cases), 4)):
        got = _together(engine, [c.adql for c in group])
        for case, table in zip(group, got, strict=True):
            assert isinstance(table, pa.Table), f"{case.id}: {table!r}"
            assert_same_result(rows_of(table), run_oracle(oracle, case.adql),
                               ordered=case.ordered)


def test_one_task_scans_arriving_during_a_scan_share_it(
        one_task_engine: Engine, oracle: duckdb.DuckDBPyConnection) -> None:
    # One query runs alone (as unshared); the three arriving meanwhile ride one elevator,
    # each merging its per-step partials into its own result.
    scans = _scans(one_task_engine)
    before = len(scans.stats().steps)
    got = _together(one_task_engine, AGGREGATES[:3] + AGGREGATES[:1], riders=3)
    reads, steps = _step_reads(one_task_engine, before)
    assert set(reads.values()) == {1}
    assert steps and all(len(step.riders) == 3 for step in steps)
    for adql, table in zip(AGGREGATES[:3] + AGGREGATES[:1], got, strict=True):
        assert_same_result(rows_of(table), run_oracle(oracle, adql))


def test_query_joining_mid_pass_wraps_around(engine: Engine, unshared: Engine) -> None:
    scans = _scans(engine)
    partitions = len(engine.table(TABLE).partitions)
    before = len(scans.stats().steps)
    scans.hold(after_steps=2)  # the first query runs two tasks alone, then waits
    try:
        first = Clients(engine, AGGREGATES[:1])
        _poll(lambda: len(scans.stats().steps) - before >= 2 and scans.riders(None) == 1)
        second = Clients(engine, AGGREGATES[1:2])
        _poll(lambda: scans.riders(None) == 2)
    finally:
        scans.release()
    got = first.join() + second.join()
    reads, steps = _step_reads(engine, before)
    alone, rest = steps[:2], steps[2:]
    assert all(s.whole_task and len(s.riders) == 1 for s in alone)
    early = {path for step in alone for path in step.files}
    # The second query starts where the elevator is, not at the first partition, rides
    # with the first while both need the same partitions, and wraps round to the ones the
    # first read before it came.
    second_id = next(i for s in rest for i in s.riders if i not in alone[0].riders)
    joined = next(s for s in rest if second_id in s.riders)
    assert joined.files[0] != min(reads)
    assert any(len(s.riders) == 2 for s in rest)
    assert all(reads[p] == 2 for p in early)
    assert all(reads[p] == 1 for p in reads if p not in early)
    assert len(reads) == partitions
    for adql, table in zip(AGGREGATES[:2], got, strict=True):
        assert_same_result(rows_of(table), rows_of(unshared.query(adql).to_table()))


def test_cancelling_one_rider_leaves_the_others_running(engine: Engine, unshared: Engine
                                                        ) -> None:
    scans = _scans(engine)
    before = len(scans.stats().steps)
    scans.hold()
    try:
        clients = Clients(engine, AGGREGATES[:3])
        _poll(lambda: scans.riders(None) == 3)
        scans.hold(after_steps=1)  # one step with all three, then wait
        _poll(lambda: len(scans.stats().steps) - before >= 1)
        clients.cancels[1].set()
        _poll(lambda: scans.riders(None) == 2)
    finally:
        scans.release()
    got = clients.join()
    assert isinstance(got[1], QueryCancelledError)
    _reads, steps = _step_reads(engine, before)
    assert len(steps[0].riders) == 3 and all(len(s.riders) == 2 for s in steps[1:])
    for i in (0, 2):
        assert_same_result(rows_of(got[i]), rows_of(unshared.query(AGGREGATES[i]).to_table()))


def test_an_error_in_one_query_fails_that_query_alone(engine: Engine, unshared: Engine
                                                      ) -> None:
    # Names are not numbers: the cast fails on the partitions near the north pole only.
    failing = ("SELECT SUM(CAST(CASE WHEN dec > 80 THEN name ELSE '1' END AS INTEGER)) AS s "
               "FROM sky.object")
    adqls = [AGGREGATES[0], failing, AGGREGATES[1]]
    got = _together(engine, adqls)
    assert isinstance(got[1], AdqlError) and "obj" in str(got[1])
    for i in (0, 2):
        assert_same_result(rows_of(got[i]), rows_of(unshared.query(adqls[i]).to_table()))


def test_progress_counts_every_chunk_of_a_rider(engine: Engine) -> None:
    scans = _scans(engine)
    scans.hold()
    try:
        results = [engine.query(q) for q in AGGREGATES[:2]]
        clients = [threading.Thread(target=r.to_table) for r in results]
        for thread in clients:
            thread.start()
        _poll(lambda: scans.riders(None) == 2)
        assert all(r.progress.snapshot().chunks_done == 0 for r in results)
    finally:
        scans.release()
    for thread in clients:
        thread.join(60)
    for result in results:
        snap = result.progress.snapshot()
        assert snap.chunks_done == snap.chunks_total == len(engine.table(TABLE).partitions)
        assert snap.tasks_running == 0


def test_cone_and_one_query_alone_run_unshared(engine: Engine, one_task_engine: Engine
                                               ) -> None:
    cone = ("SELECT id FROM sky.object WHERE "
            "1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 150, 2, 1))")
    assert all(t.scan is None for t in engine.plan(cone).tasks)
    scans = _scans(one_task_engine)
    before = len(scans.stats().steps)
    one_task_engine.query(AGGREGATES[0]).to_table()
    assert len(scans.stats().steps) == before  # no elevator: the unshared path ran


def test_a_step_reads_its_column_ranges_whether_the_kernel_or_a_copy_reads_them(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = _scans(engine)
    files = [f for t in engine.plan(AGGREGATES[0]).tasks for f in t.scan.files]
    columns = ["ra", "g_mag"]
    wanted = sum(size for f in files for _start, size in shared_scan.column_ranges(f, columns))
    before = dict(scans.stats().reads)
    advised = scans.read(files, columns)  # posix_fadvise on Linux
    monkeypatch.setattr(shared_scan, "_ADVISE", False)  # the copy, as where it is missing
    copied = scans.read(files, columns)
    assert advised == copied == wanted > 0
    reads = scans.stats().reads
    assert all(reads[f] - before.get(f, 0) == 2 for f in files)
    with pytest.raises(ChunkUnavailableError, match="could not be read"):
        scans.read([str(Path(files[0]).with_name("missing.parquet"))], columns)


def test_a_lone_scan_of_tasks_larger_than_a_step_rides_in_steps(engine: Engine,
                                                                unshared: Engine) -> None:
    # Whole tasks larger than a step would keep a query arriving meanwhile waiting for
    # them, then make it read their partitions again: the lone scan rides in steps.
    scans = _scans(engine)
    saved = scans.step_bytes
    scans.step_bytes = 500  # below any task's rows: steps of a partition or a few
    try:
        before = len(scans.stats().steps)
        got = engine.query(AGGREGATES[2]).to_table()
        _reads, steps = _step_reads(engine, before)
    finally:
        scans.step_bytes = saved
    assert steps and not any(s.whole_task for s in steps)
    assert_same_result(rows_of(got), rows_of(unshared.query(AGGREGATES[2]).to_table()))
