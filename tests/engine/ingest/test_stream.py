"""Ingest from streams of Arrow record batches: replayable sources, one-shot iterables."""

from __future__ import annotations

import functools
import itertools
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalog import read_table
from engine.errors import IngestError
from engine.ingest import write as write_mod
from engine.ingest.api import ingest_batches, ingest_files
from engine.ingest.sources import BatchSource
from engine.ingest.synthetic import synthetic_part, synthetic_source


def _rows(data: Path, table: str = "sim.obj") -> dict[int, tuple]:
    """Every published row by id, with the partition it is in."""
    t = read_table(data, table)
    out = {}
    for p in t.manifest.partitions:
        part = pq.read_table(t.resolve(p.path)).to_pydict()
        for i, row_id in enumerate(part["id"]):
            out[row_id] = (p.order, p.ipix, part["_healpix_29"][i], part["ra"][i],
                           part["mag_r"][i], part["flags"][i])
    return out


def test_synthetic_parts_are_seeded_disjoint_and_on_the_sky():
    src = synthetic_source(25_000, seed=5, part_rows=10_000)
    assert src.parts == 3
    first = pa.Table.from_batches(list(src.read_part(1)))
    again = pa.Table.from_batches(list(src.read_part(1)))
    assert first.equals(again)
    other = pa.Table.from_batches(list(synthetic_source(25_000, seed=6,
                                                        part_rows=10_000).read_part(1)))
    assert not first.column("ra").equals(other.column("ra"))
    ids = np.concatenate([b.column("id").to_numpy() for i in range(3)
                          for b in src.read_part(i)])
    assert np.array_equal(ids, np.arange(25_000))
    ra, dec = first.column("ra").to_numpy(), first.column("dec").to_numpy()
    assert ra.min() >= 0 and ra.max() <= 360 and dec.min() >= -90 and dec.max() <= 90
    # a quarter of the rows in the galactic band, on top of the uniform ones in it (17 %)
    from astropy.coordinates import SkyCoord

    b = SkyCoord(ra=ra, dec=dec, unit="deg").galactic.b.deg
    assert 0.33 < np.mean(np.abs(b) < 10) < 0.43


def test_stream_and_files_of_the_same_rows_publish_the_same_table(tmp_path):
    src = synthetic_source(30_000, seed=3, part_rows=7_000)
    files = []
    for i in range(src.parts):
        path = tmp_path / f"in_{i}.parquet"
        pq.write_table(pa.Table.from_batches(list(src.read_part(i))), path)
        files.append(str(path))
    common = dict(ra="ra", dec="dec", id_column="id", max_rows_per_partition=3_000,
                  progress=False)
    by_files = ingest_files(tmp_path / "f", "sim.obj", files, workers=1, **common)
    by_stream = ingest_batches(tmp_path / "s", "sim.obj", src, workers=2, **common)
    assert by_stream.nrows == by_files.nrows == 30_000
    assert [(p.order, p.ipix, p.nrows, p.margin_nrows) for p in by_stream.partitions] == [
        (p.order, p.ipix, p.nrows, p.margin_nrows) for p in by_files.partitions]
    assert _rows(tmp_path / "s") == _rows(tmp_path / "f")
    assert by_stream.ingested_files == ()
    assert [c.name for c in by_stream.columns] == [c.name for c in by_files.columns]
    index = pq.read_table(read_table(tmp_path / "s", "sim.obj").resolve(by_stream.id_index))
    assert index.column("id").to_pylist() == list(range(30_000))
    staging = tmp_path / "s" / "staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_one_shot_iterable_is_read_once_and_appends(tmp_path):
    src = synthetic_source(12_000, seed=9, part_rows=5_000)
    consumed = []

    def batches():
        for i in range(src.parts):
            for b in src.read_part(i):
                consumed.append(b.num_rows)
                yield b

    m = ingest_batches(tmp_path, "sim.obj", batches(), ra="ra", dec="dec", id_column="id",
                       max_rows_per_partition=4_000, workers=2, progress=False)
    assert m.nrows == sum(consumed) == 12_000
    more = pa.table({"id": np.arange(12_000, 12_100), "ra": np.linspace(10, 20, 100),
                     "dec": np.linspace(-5, 5, 100),
                     **{f"mag_{b}": np.full(100, 20.0, np.float32) for b in "ugriz"},
                     "flags": np.zeros(100, np.int16)})
    m2 = ingest_batches(tmp_path, "sim.obj", more.to_batches(max_chunksize=30), ra="ra",
                        dec="dec", id_column="id", max_rows_per_partition=4_000, workers=1,
                        progress=False)
    assert m2.version == 2 and m2.nrows == 12_100
    assert sorted(_rows(tmp_path)) == list(range(12_100))


def test_bad_stream_rows_name_the_part_and_row(tmp_path):
    good = pa.Table.from_batches(list(synthetic_source(3_000, seed=1).read_part(0)))
    dec = good.column("dec").to_numpy().copy()
    dec[2_345] = 95.0
    bad = good.set_column(2, "dec", pa.array(dec))
    with pytest.raises(IngestError, match=r"^my survey: column 'dec' is out of range .* row "
                                          r"2346 "):
        ingest_batches(tmp_path, "sim.obj", bad.to_batches(max_chunksize=1_000),
                       name="my survey", ra="ra", dec="dec", workers=1, progress=False)
    ids = good.column("id").to_numpy().copy()
    ids[2_000] = 17
    dup = good.set_column(0, "id", pa.array(ids))
    with pytest.raises(IngestError, match=r"Duplicate id 17 .*my survey row 18; .*row 2001\b"):
        ingest_batches(tmp_path, "sim.obj", [dup], name="my survey", ra="ra", dec="dec",
                       id_column="id", workers=1, progress=False)
    with pytest.raises(IngestError, match="no column 'ra_deg'"):
        ingest_batches(tmp_path, "sim.obj", [good], ra="ra_deg", dec="dec", progress=False)
    with pytest.raises(IngestError, match="must yield pyarrow RecordBatch"):
        ingest_batches(tmp_path, "sim.obj", [{"ra": 1}], ra="ra", dec="dec", progress=False)
    assert read_table(tmp_path, "sim.obj") is None


def test_a_stream_the_disk_cannot_hold_is_refused_before_reading_it(tmp_path):
    read = []

    def part(i):
        read.append(i)
        return synthetic_part(i, rows=10**13, part_rows=1_000, seed=1)

    huge = BatchSource(part, parts=10**10, nrows=10**13)
    with pytest.raises(IngestError, match=r"Not enough free space on the disk holding .* "
                                          r"needs at least about \d+\.\d TB"):
        ingest_batches(tmp_path, "sim.obj", huge, ra="ra", dec="dec", id_column="id",
                       workers=1, progress=False)
    assert read == [0]  # only the sample: the first batch of part 0
    assert read_table(tmp_path, "sim.obj") is None


def test_pass_two_deletes_spills_as_their_sky_buckets_are_written(tmp_path, monkeypatch):
    seen = []
    real = write_mod.write_partition_group

    def observed(job, pmap=None):
        spill_dir = Path(job.partitions[0].out_path).parents[6] / "spill"
        seen.append(sum(f.stat().st_size for f in spill_dir.glob("b*.parquet")))
        return real(job, pmap)

    monkeypatch.setattr(write_mod, "write_partition_group", observed)
    src = synthetic_source(40_000, seed=2, part_rows=10_000)
    m = ingest_batches(tmp_path, "sim.obj", src, ra="ra", dec="dec", id_column="id",
                       max_rows_per_partition=2_000, workers=1, progress=False)
    assert m.nrows == 40_000
    assert len(m.partitions) > len(seen) >= 8  # jobs of several partitions each
    assert seen[-1] < seen[0] / 4, seen
    assert all(b <= a for a, b in itertools.pairwise(seen)), seen


def test_worker_processes_read_the_parts_of_a_partial_source(tmp_path):
    src = BatchSource(functools.partial(synthetic_part, rows=4_000, part_rows=2_000, seed=4),
                      parts=2, nrows=4_000, name="partial")
    m = ingest_batches(tmp_path, "sim.obj", src, ra="ra", dec="dec", workers=2,
                       progress=False)
    assert m.nrows == 4_000
    assert os.listdir(tmp_path / "tables")
