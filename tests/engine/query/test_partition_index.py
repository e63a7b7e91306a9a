"""The partition index picks exactly the partitions a look at each one would pick."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import Partition
from engine.planning.partition_index import PartitionIndex, index_of
from engine.sky.healpix import pixel_range
from engine.sky.regions import ConeRegion, overlaps


def _adaptive(rng: np.random.Generator, base_order: int, deepen: float) -> list[Partition]:
    """Disjoint partitions covering the sky: each pixel split again with some probability."""
    out: list[Partition] = []
    stack = [(base_order, ipix) for ipix in range(12 * 4 ** base_order)]
    while stack:
        order, ipix = stack.pop()
        if order < base_order + 3 and rng.random() < deepen:
            stack += [(order + 1, 4 * ipix + k) for k in range(4)]
        else:
            out.append(Partition(order, ipix, 1, f"{order}/{ipix}"))
    rng.shuffle(out)  # the index must not rely on the manifest's order
    return out


@pytest.mark.parametrize("seed", range(6))
def test_cone_partitions_match_a_look_at_each(seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = _adaptive(rng, base_order=1, deepen=0.35)
    index = PartitionIndex(parts)
    assert index.disjoint
    for _ in range(40):
        cone = ConeRegion(float(rng.uniform(0, 360)), float(np.degrees(np.arcsin(
            rng.uniform(-1, 1)))), float(10 ** rng.uniform(-3, 1.5)))
        cov_order, pixels = cone.coverage(index.max_order)
        want = [p for p in parts if overlaps(cov_order, pixels, p.order, p.ipix)]
        assert index.meeting(cov_order, pixels) == want


@pytest.mark.parametrize("seed", range(3))
def test_values_find_the_partition_holding_them(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    parts = _adaptive(rng, base_order=0, deepen=0.5)
    index = PartitionIndex(parts)
    values = [int(v) for v in rng.integers(0, 12 << 58, 50)]
    want = [p for p in parts if any(pixel_range(p.order, p.ipix)[0] <= v
                                     < pixel_range(p.order, p.ipix)[1] for v in values)]
    assert index.holding(values) == want


def test_overlapping_partitions_fall_back_to_a_look_at_each() -> None:
    parts = [Partition(0, 3, 1, "a"), Partition(1, 13, 1, "b"), Partition(1, 2, 1, "c")]
    index = PartitionIndex(parts)
    assert not index.disjoint
    assert index.meeting(2, [13 * 4]) == [parts[0], parts[1]]
    assert index.holding([(13 << 56) + 5]) == [parts[0], parts[1]]


def test_chunks_keep_the_manifest_order_and_skip_unknown_ids() -> None:
    parts = [Partition(2, i, 1, str(i)) for i in (40, 3, 17, 9)]
    index = PartitionIndex(parts)
    assert index.chunks([(2, 9), (2, 40), (5, 1)]) == [parts[0], parts[3]]


def test_child_within_director_is_remembered_per_index() -> None:
    director = PartitionIndex([Partition(1, i, 1, str(i)) for i in range(48)])
    child = PartitionIndex([Partition(1, i, 1, str(i)) for i in (3, 7)])
    stray = PartitionIndex([Partition(2, 5, 1, "x")])
    assert child.within(director) and child.within(director)
    assert not stray.within(director)


def test_index_of_a_manifest_is_built_once(data_dir) -> None:
    from engine.catalog import read_table

    manifest = read_table(data_dir, "sky.object").manifest
    assert index_of(manifest) is index_of(manifest)
    assert len(index_of(manifest)) == len(manifest.partitions)
