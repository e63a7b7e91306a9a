"""Id lookups in a sorted id index: only the row groups (and pages) that can hold the ids."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine import id_index


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[int, int]]:
    """100,000 sorted odd ids in row groups of 40,000 (several read batches each)."""
    rng = random.Random(3)
    ids = list(range(1, 200_001, 2))
    cells = [rng.randrange(1 << 60) for _ in ids]
    path = str(Path(tmp_path_factory.mktemp("idx")) / "id_index.parquet")
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()),
                             "_healpix_29": pa.array(cells, pa.int64())}),
                   path, row_group_size=40_000)
    return path, dict(zip(ids, cells, strict=True))


def test_lookup_matches_a_scan_of_the_index(index: tuple[str, dict[int, int]]) -> None:
    path, cells = index
    rng = random.Random(5)
    edges = [1, 79_999, 80_001, 159_999, 160_001, 199_999]  # first/last ids of row groups
    cases = [[i] for i in edges] + [[2], [0], [200_001], [-7]]
    cases += [rng.sample(range(-5, 200_010), k) for k in (2, 5, 50)]
    for ids in cases:
        expected = sorted({cells[i] for i in ids if i in cells})
        assert id_index.lookup(path, "id", list[int | str](ids)) == expected, ids


def test_lookup_of_string_ids_and_wrong_types(tmp_path: Path) -> None:
    path = str(tmp_path / "id_index.parquet")
    names = sorted(f"obj{i:06d}" for i in range(50_000))
    pq.write_table(pa.table({"name": names, "_healpix_29": list(range(50_000))}), path,
                   row_group_size=20_000)
    assert id_index.lookup(path, "name", ["obj000003", "obj049999", "nope"]) == [3, 49_999]
    assert id_index.lookup(path, "name", [3]) is None  # an int against string ids: cannot tell
