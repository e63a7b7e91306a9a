"""Integer columns with NULLs keep every digit: Gaia source_ids are above 2**53."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import qserv_access
from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server

IDS = [2769202742740232960, None, 2**62 + 1, 4295806720, None]
"""The first is a real Gaia DR3 source_id that came back 256 off through float64."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bigint")
    batch = pa.record_batch({
        "hip": pa.array(range(1, len(IDS) + 1), pa.int64()),
        "ra": pa.array([10.0, 20.0, 30.0, 40.0, 50.0]),
        "dec": pa.array([-5.0, 0.0, 5.0, 10.0, 15.0]),
        "source_id": pa.array(IDS, pa.int64()),
        "flag": pa.array([True, None, False, True, None]),
    })
    qserv_access.ingest(root, "gaia.stars", [batch], ra="ra", dec="dec", id_column="hip")
    return root


def _check(table) -> None:
    column = table["source_id"]
    assert column.dtype == np.int64
    assert list(np.ma.getmaskarray(column)) == [x is None for x in IDS]
    assert [int(v) for v, x in zip(column.data, IDS, strict=True) if x is not None] == \
        [x for x in IDS if x is not None]
    assert table["flag"].dtype == bool
    assert list(np.ma.getmaskarray(table["flag"])) == [False, True, False, False, True]


def test_embedded_query_keeps_large_ids_with_nulls(data_dir):
    table = qserv_access.connect(data_dir).query(
        "SELECT hip, source_id, flag FROM gaia.stars ORDER BY hip")
    _check(table)


@pytest.fixture(scope="module")
def tap_url(data_dir, tmp_path_factory):
    with running_tap_server(data_dir, tmp_path_factory.mktemp("bigint-tap"), free_port()) as url:
        yield url


@pytest.mark.parametrize("response_format", ["parquet", "votable"])
def test_remote_query_keeps_large_ids_with_nulls(tap_url, response_format):
    table = qserv_access.connect(tap_url, response_format=response_format).query(
        "SELECT hip, source_id, flag FROM gaia.stars ORDER BY hip")
    _check(table)
