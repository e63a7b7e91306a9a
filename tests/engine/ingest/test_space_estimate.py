"""The disk estimate of a stream writes its sample as the partition writer writes a
partition (page index included), so it tracks a real ingest's published bytes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from engine.catalog import read_table
from engine.ingest.api import ingest_batches
from engine.ingest.space import estimate_stream_bytes
from engine.ingest.synthetic import synthetic_source

ROWS = 200_000


def test_estimate_tracks_published_partition_bytes(tmp_path: Path) -> None:
    source = synthetic_source(ROWS, seed=11, part_rows=100_000)
    sample = next(iter(source.read_part(0)))
    ingest_batches(tmp_path, "sim.obj", source, ra="ra", dec="dec", id_column="id",
                   workers=1, progress=False)
    table = read_table(tmp_path, "sim.obj")
    published = sum(Path(table.resolve(p.path)).stat().st_size
                    for p in table.manifest.partitions)
    for p in table.manifest.partitions:  # the real files carry the page index
        assert pq.ParquetFile(table.resolve(p.path)).metadata.row_group(0).column(
            0).has_offset_index
    estimate = estimate_stream_bytes(sample, ROWS, "ra", "dec")
    assert abs(estimate / published - 1) < 0.04, (estimate, published)
