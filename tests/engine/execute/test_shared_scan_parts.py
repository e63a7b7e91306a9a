"""Shared scans: a step with fewer riders than workers runs each rider's SQL over parts of
its files side by side, and every answer stays the unshared one.

Real threads, real DuckDB over real Parquet partitions; the scheduler's own step log says
how many parts each step ran as.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.api import Engine, EngineOptions
from engine.errors import EngineError, QueryCancelledError
from engine.execute.shared_scan import ScanScheduler, split_files
from tests.engine.query.conftest import _objects
from tests.engine.query.oracle import assert_same_result, rows_of

TABLE = "sky.object"
QUERIES = (
    f"SELECT COUNT(*) AS n, SUM(g_mag) AS s, MIN(ra) AS lo, MAX(dec) AS hi FROM {TABLE}",
    f"SELECT flags, COUNT(*) AS n, AVG(r_mag) AS r, MAX(z_mag) AS z FROM {TABLE} GROUP BY flags",
    f"SELECT id, ra FROM {TABLE} WHERE g_mag > 20",
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.ingest.api import ingest_files

    raw = _objects(tmp_path_factory.mktemp("parts-raw") / "object.parquet")
    data = tmp_path_factory.mktemp("parts-data")
    ingest_files(data, TABLE, [str(raw)], ra="ra", dec="dec", id_column="id",
                 max_rows_per_partition=150, progress=False)
    return data


def _engine(data_dir: Path, *, shared: bool, rows_per_task: int | None) -> Engine:
    eng = Engine.open(data_dir, EngineOptions(rows_per_task=rows_per_task, workers=2,
                                              shared_scans=shared))
    if shared:
        _scans(eng).step_bytes = 2_000  # below any task: a lone scan rides in steps
    return eng


@pytest.fixture(scope="module")
def engines(data_dir: Path) -> Iterator[dict[str, Engine]]:
    made = {"shared": _engine(data_dir, shared=True, rows_per_task=400),
            "one_task": _engine(data_dir, shared=True, rows_per_task=None),
            "unshared": _engine(data_dir, shared=False, rows_per_task=400)}
    yield made
    for eng in made.values():
        eng.close()


def _scans(engine: Engine) -> ScanScheduler:
    scans = engine._executor.scans  # type: ignore[union-attr]
    assert scans is not None
    return scans


def test_split_files_keeps_order_and_every_file() -> None:
    files = [f"f{i}" for i in range(7)]
    for parts in (1, 2, 3, 7, 9):
        runs = split_files(files, parts)
        assert [f for run in runs for f in run] == files
        assert len(runs) == min(parts, len(files))
        assert max(map(len, runs)) - min(map(len, runs)) <= 1


@pytest.mark.parametrize("query", QUERIES)
def test_a_lone_scan_runs_its_steps_in_parts_with_the_unshared_answer(
        engines: dict[str, Engine], query: str) -> None:
    scans = _scans(engines["shared"])
    before = len(scans.stats().steps)
    got = engines["shared"].query(query).to_table()
    steps = scans.stats().steps[before:]
    assert steps and not any(s.whole_task for s in steps)
    assert any(s.parts == 2 for s in steps)  # two workers: a lone rider's step in two
    assert all(s.parts == min(2, len(s.files)) for s in steps)
    assert_same_result(rows_of(got), rows_of(engines["unshared"].query(query).to_table()))


def test_a_one_task_rider_merges_its_parts_into_the_unshared_answer(
        engines: dict[str, Engine]) -> None:
    # A one-task plan's rider keeps its parts' results and merges them once all are in. It
    # rides when a scan of its table is running: claim one, as a lone one-task scan does.
    one_task = engines["one_task"]
    scans = _scans(one_task)
    running = one_task.plan(QUERIES[0]).tasks
    assert not scans.claim(running)  # runs alone: its table is now being scanned
    try:
        before = len(scans.stats().steps)
        got = one_task.query(QUERIES[1]).to_table()
        steps = scans.stats().steps[before:]
    finally:
        scans.unclaim(running)
    assert steps and any(s.parts == 2 for s in steps)
    assert_same_result(rows_of(got), rows_of(engines["unshared"].query(QUERIES[1]).to_table()))


def test_cancelling_a_lone_scan_mid_pass_stops_it_and_the_next_one_runs(
        engines: dict[str, Engine]) -> None:
    shared = engines["shared"]
    scans = _scans(shared)
    cancel = threading.Event()
    outcome: list[object] = []

    def client() -> None:
        try:
            outcome.append(shared.query(QUERIES[2], cancel=cancel).to_table())
        except EngineError as exc:
            outcome.append(exc)

    scans.hold()
    thread = threading.Thread(target=client)
    try:
        thread.start()
        _poll(lambda: scans.riders() == 1)
        before = len(scans.stats().steps)
        scans.hold(after_steps=1)  # one step (in parts), then the elevator waits
        _poll(lambda: len(scans.stats().steps) > before)
        cancel.set()
        _poll(lambda: scans.riders() == 0)
    finally:
        scans.release()
        thread.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], QueryCancelledError)
    assert_same_result(rows_of(shared.query(QUERIES[0]).to_table()),
                       rows_of(engines["unshared"].query(QUERIES[0]).to_table()))


def _poll(check: Callable[[], bool], deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)
