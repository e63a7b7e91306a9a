"""Pass 2 reads each spilled row group once, and the published catalog is the same
whatever the read grid and however the partitions are grouped into pass-2 jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine.catalog import read_table
from engine.ingest import workers as workers_mod
from engine.ingest import write as write_mod
from engine.ingest.api import ingest_batches
from engine.ingest.layout import plan_layout
from engine.ingest.partitioning import HISTOGRAM_ORDER
from engine.ingest.synthetic import synthetic_source
from engine.ingest.workers import read_order

ROWS = 40_000
MAX_ROWS = 3_000


def _ingest(data: Path, monkeypatch: pytest.MonkeyPatch, *, cell_rows: int, group_rows: int
            ) -> tuple[dict[tuple[str, int], int], dict[str, int], list[int]]:
    """Ingest the catalog with a read grid of ``cell_rows`` rows per cell and pass-2 jobs of
    ``group_rows`` rows (one worker: in this process); return how many times each spill
    row group was read, the row groups of each spill file, and each job's partitions."""
    monkeypatch.setattr(workers_mod, "READ_CELL_ROWS", cell_rows)
    monkeypatch.setattr(write_mod, "GROUP_ROWS", group_rows)
    real = write_mod.write_partition_group
    reads: dict[tuple[str, int], int] = {}
    groups: dict[str, int] = {}
    jobs: list[int] = []

    def observed(job, pmap=None):
        jobs.append(len(job.partitions))
        for path, chosen in job.spills:
            groups[Path(path).name] = pq.ParquetFile(path).metadata.num_row_groups
            for g in chosen:
                reads[(Path(path).name, g)] = reads.get((Path(path).name, g), 0) + 1
        return real(job, pmap)

    monkeypatch.setattr(write_mod, "write_partition_group", observed)
    ingest_batches(data, "sim.obj", synthetic_source(ROWS, seed=7, part_rows=10_000),
                   ra="ra", dec="dec", id_column="id", max_rows_per_partition=MAX_ROWS,
                   workers=1, progress=False)
    monkeypatch.undo()
    return reads, groups, jobs


def _published(data: Path) -> dict[str, object]:
    """Every published file's table, by path under the version (the id index included)."""
    table = read_table(data, "sim.obj")
    out: dict[str, object] = {"id_index": pq.read_table(table.resolve(table.manifest.id_index))}
    for p in table.manifest.partitions:
        out[p.path] = pq.read_table(table.resolve(p.path))
        out[p.margin_path] = pq.read_table(table.resolve(p.margin_path))
    return out


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = tmp_path_factory.mktemp("default")
    with pytest.MonkeyPatch.context() as mp:
        _ingest(data, mp, cell_rows=workers_mod.READ_CELL_ROWS,
                group_rows=write_mod.GROUP_ROWS)
    return _published(data)


def test_each_spilled_row_group_is_read_once_on_a_fine_read_grid(tmp_path, monkeypatch,
                                                                   default_run):
    assert read_order(ROWS) == 1  # by default: cells are the spill buckets
    cell_rows = 100  # order 3: 768 cells, below a pass-1 run's share of a bucket
    reads, groups, jobs = _ingest(tmp_path, monkeypatch, cell_rows=cell_rows, group_rows=2_000)
    assert len(jobs) > 20 and max(jobs) > 1
    every = {(name, g) for name, n in groups.items() for g in range(n)}
    assert set(reads) == every
    assert set(reads.values()) == {1}
    assert _published(tmp_path).keys() == default_run.keys()
    for path, table in _published(tmp_path).items():
        assert table.equals(default_run[path]), path


def test_a_job_per_partition_gives_the_same_catalog(tmp_path, monkeypatch, default_run):
    reads, _, jobs = _ingest(tmp_path, monkeypatch, cell_rows=workers_mod.READ_CELL_ROWS,
                             group_rows=1_000)
    assert set(jobs) == {1} and len(jobs) == (len(default_run) - 1) // 2
    assert set(reads.values()) == {1}
    for path, table in _published(tmp_path).items():
        assert table.equals(default_run[path]), path


def test_groups_gather_whole_cells_up_to_the_job_size(tmp_path):
    hist = np.zeros(12 * 4**HISTOGRAM_ORDER, dtype=np.int64)
    per_cell = 4**(HISTOGRAM_ORDER - 1)  # histogram pixels per order-1 cell
    hist[:per_cell] = 10  # cell 0: 655,360 rows, in 16 order-3 partitions
    hist[per_cell:2 * per_cell:per_cell // 4] = 1  # cell 1: 4 rows, one partition
    hist[5 * per_cell] = 7  # cell 5, alone in order-0 pixel 1: one order-0 partition
    layout = plan_layout(hist, max_rows=100_000, table_part="t", out=tmp_path,
                         work=tmp_path, margin_arcsec=0.0)
    fine = [(3, k) for k in range(16)]

    def pixels(groups):
        return [[layout.pixels[i] for i in g] for g in groups]

    assert pixels(write_mod.plan_groups(layout, hist, 1, group_rows=10**6)) == [
        [*fine, (1, 1), (0, 1)]]
    # cell 0 holds more than twice the job size: a job per partition; the small cell
    # and the coarse partition after it share one job
    assert pixels(write_mod.plan_groups(layout, hist, 1, group_rows=100)) == [
        *([p] for p in fine), [(1, 1), (0, 1)]]
    # on an order-3 grid each fine partition is a cell of its own: gathered up to the size
    assert pixels(write_mod.plan_groups(layout, hist, 3, group_rows=81_920)) == [
        fine[k:k + 2] for k in range(0, 16, 2)] + [[(1, 1), (0, 1)]]
