"""The faster pieces of ingest give exactly what the slower ones gave: the stable sort
of ``_healpix_29``, the dictionary-or-delta choice, and the margins' near-edge test."""

from __future__ import annotations

import itertools

import healpy as hp
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.ingest.partitioning import choose_partitions
from engine.ingest.sorting import MAX_TIE_RUNS, is_ascending, stable_argsort
from engine.ingest.workers import DICTIONARY_MAX_SHARE, _few_distinct
from engine.sky.healpix import spatial_index
from engine.sky.margins import PartitionMap, _near_edge, neighbour_order


@pytest.mark.parametrize(("n", "high"), [(0, 1), (1, 1), (2, 1), (5000, 3), (5000, 4000),
                                         (20000, 1 << 62), (6 * MAX_TIE_RUNS, 2 * MAX_TIE_RUNS)])
def test_stable_argsort_equals_numpy_stable_sort(n, high):
    rng = np.random.default_rng(n + high % 1000)
    keys = rng.integers(0, high, n, dtype=np.int64)
    got = stable_argsort(keys)
    assert np.array_equal(got, np.argsort(keys, kind="stable"))


def test_stable_argsort_keeps_input_order_of_equal_keys_among_sorted_runs():
    rng = np.random.default_rng(7)
    runs = [np.sort(rng.integers(0, 50_000, 2000)) for _ in range(40)]  # pass 2's input
    keys = np.concatenate(runs)
    assert np.array_equal(stable_argsort(keys), np.argsort(keys, kind="stable"))


def test_is_ascending_only_for_integers_in_order_without_nulls():
    assert is_ascending(pa.chunked_array([[1, 2], [2, 9]]))
    assert not is_ascending(pa.chunked_array([[1, 2], [1, 9]]))
    assert not is_ascending(pa.array([1, None, 3]))


@pytest.mark.parametrize("values", [
    np.arange(10_000),                                   # ids: all distinct
    np.arange(10_000) % 1250,                            # exactly at the limit
    np.arange(10_000) % 1251,                            # one above it
    np.r_[np.zeros(1251), np.arange(8749)],              # the first rows repeat, the rest not
    np.r_[np.arange(1251), np.zeros(8749)],              # the first rows distinct, few overall
])
def test_few_distinct_decides_as_a_full_count(values):
    table = pa.table({"x": pa.array(values.astype(np.int64))})
    full = pc.count_distinct(table.column("x"), mode="all").as_py()
    expected = full <= max(len(values) * DICTIONARY_MAX_SHARE, 1)
    assert _few_distinct(table, "x") is expected


def test_few_distinct_counts_nulls_once():
    table = pa.table({"x": pa.array([None] * 80 + [1], pa.int64())})  # 2 distinct of 81
    assert _few_distinct(table, "x") is True


def test_near_edge_of_dense_rows_equals_the_test_row_by_row():
    rng = np.random.default_rng(3)
    lookup = 5
    # Many rows per order-12 pixel (as at 1e9 rows), around a partition corner.
    ra = rng.normal(45.0, 0.02, 3000) % 360
    dec = rng.normal(41.8, 0.02, 3000)
    counts = np.bincount(hp.ang2pix(1 << lookup, ra, dec, nest=True, lonlat=True),
                         minlength=12 * 4**lookup)
    counts[counts == 0] = 1
    orders, ipixs = choose_partitions(counts, max_rows=400)
    pmap = PartitionMap(orders, ipixs, lookup)
    own = pmap.owner[hp.ang2pix(1 << lookup, ra, dec, nest=True, lonlat=True)]
    order = neighbour_order(10.0)
    by_position = np.argsort(spatial_index(ra, dec), kind="stable")  # as an ingest's rows
    for part, shuffled in itertools.product(np.unique(own).tolist(), (False, True)):
        idx = by_position[own[by_position] == part]
        if shuffled:
            idx = rng.permutation(idx)
        got = _near_edge(part, ra[idx], dec[idx], pmap, order)
        one_by_one = [bool(_near_edge(part, ra[i:i + 1], dec[i:i + 1], pmap, order)[0])
                      for i in idx]
        assert got.tolist() == one_by_one
        assert got.any()
