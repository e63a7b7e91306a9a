"""Session fixtures: the small sky ingested with tiny partitions, engines over it, the oracle.

Tables (all in schema ``sky``):

- ``object``: the small sky (2,000 rows, poles, seam, dense cluster, close pairs) plus
  ``z_mag`` (NULL or NaN in some rows) and ``name`` (NULL in some rows); at most 150 rows
  per partition, so partitions come at several orders.
- ``source``: its child table (3 sources per object), director key ``object_id``.
- ``src``: a child with its own positions, as Rubin's Source (ingested with ``--ra --dec
  --id sourceId --director sky.object --director-key objectId``): 3 rows per object, each
  1-5 arcsec from it, a few pinned across the RA seam and around the poles
  (:data:`cases.SRC_PINNED`), so its rows often lie outside their object's chunk.
- ``other``: a second positional table, every object moved by 1-3 arcsec, at most 97 rows per
  partition so its partitioning differs from ``object``'s.
- ``flagdefs``: a regular table, one row per flag value 0..63 (some NULL weights).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from engine.api import Engine, EngineOptions
from engine.ingest.api import ingest_files
from tests.support.sky_oracle import destination
from tests.support.small_sky import make_small_sky, make_small_sources

from .cases import SRC_PINNED
from .oracle import open_oracle


def _objects(path: Path) -> Path:
    raw = path.with_name("raw_object.parquet")
    make_small_sky(raw, n=2000, seed=1)
    table = pq.read_table(raw)
    n = table.num_rows
    rng = np.random.default_rng(11)
    z = (rng.uniform(14, 24, n)).astype(np.float64)
    z[::13] = np.nan
    z_mask = np.zeros(n, dtype=bool)
    z_mask[5::17] = True
    names = [None if i % 11 == 3 else f"obj{int(v)}" for i, v in
             enumerate(table.column("id").to_numpy())]
    table = table.append_column("z_mag", pa.array(z, mask=z_mask))
    table = table.append_column("name", pa.array(names, pa.string()))
    pq.write_table(table, path)
    return path


def _others(path: Path, objects: Path) -> Path:
    table = pq.read_table(objects, columns=["id", "ra", "dec", "g_mag"])
    rng = np.random.default_rng(5)
    n = table.num_rows
    ra, dec = destination(table.column("ra").to_numpy(), table.column("dec").to_numpy(),
                          rng.uniform(0, 2 * np.pi, n), rng.uniform(1, 3, n) / 3600)
    other = pa.table({
        "id": pc.add(table.column("id"), 5_000_000),
        "ra": pa.array(np.asarray(ra, dtype=np.float64)),
        "dec": pa.array(np.clip(np.asarray(dec, dtype=np.float64), -90, 90)),
        "g_mag": table.column("g_mag"),
    })
    pq.write_table(other, path)
    return path


def _sources_with_positions(path: Path, objects: Path) -> Path:
    table = pq.read_table(objects, columns=["id", "ra", "dec"])
    rng = np.random.default_rng(17)
    per_object = 3
    obj_id = np.repeat(table.column("id").to_numpy(), per_object)
    n = len(obj_id)
    ra, dec = destination(np.repeat(table.column("ra").to_numpy(), per_object),
                          np.repeat(table.column("dec").to_numpy(), per_object),
                          rng.uniform(0, 2 * np.pi, n), rng.uniform(1, 5, n) / 3600)
    ra, dec = np.asarray(ra, dtype=np.float64), np.clip(np.asarray(dec, np.float64), -90, 90)
    for object_id, (pin_ra, pin_dec) in SRC_PINNED.items():
        first = int(np.flatnonzero(obj_id == object_id)[0])
        ra[first], dec[first] = pin_ra, pin_dec
    pq.write_table(pa.table({
        "sourceId": pa.array(np.arange(n, dtype=np.int64) + 2 * 10**9),
        "objectId": pa.array(obj_id),
        "ra": pa.array(ra),
        "dec": pa.array(dec),
        "mjd": pa.array(rng.uniform(60000, 61000, n)),
        "psfFlux": pa.array(rng.lognormal(8, 1, n).astype(np.float32)),
    }), path)
    return path


def _flagdefs(path: Path) -> Path:
    flags = np.arange(64, dtype=np.int16)
    weights = pa.array([None if f % 9 == 4 else float(f) / 8 for f in flags], pa.float64())
    pq.write_table(pa.table({
        "flag": pa.array(flags),
        "label": pa.array([f"flag_{f:02d}" for f in flags]),
        "weight": weights,
        "bad": pa.array([bool(f & 1) for f in flags]),
    }), path)
    return path


@pytest.fixture(scope="session")
def sky_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The raw, unsharded Parquet file of each table."""
    root = tmp_path_factory.mktemp("raw")
    objects = _objects(root / "object.parquet")
    return {
        "sky.object": objects,
        "sky.source": make_small_sources(root / "source.parquet", objects),
        "sky.src": _sources_with_positions(root / "src.parquet", objects),
        "sky.other": _others(root / "other.parquet", objects),
        "sky.flagdefs": _flagdefs(root / "flagdefs.parquet"),
    }


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, sky_files: dict[str, Path]) -> Path:
    """A data directory holding the five tables."""
    data = tmp_path_factory.mktemp("data")
    ingest_files(data, "sky.object", [str(sky_files["sky.object"])], ra="ra", dec="dec",
                 id_column="id", max_rows_per_partition=150, progress=False)
    ingest_files(data, "sky.source", [str(sky_files["sky.source"])], director="sky.object",
                 director_key="object_id", progress=False)
    ingest_files(data, "sky.src", [str(sky_files["sky.src"])], ra="ra", dec="dec",
                 id_column="sourceId", director="sky.object", director_key="objectId",
                 progress=False)
    ingest_files(data, "sky.other", [str(sky_files["sky.other"])], ra="ra", dec="dec",
                 id_column="id", max_rows_per_partition=97, progress=False)
    ingest_files(data, "sky.flagdefs", [str(sky_files["sky.flagdefs"])], progress=False)
    return data


@pytest.fixture(scope="session")
def engine(data_dir: Path) -> Iterator[Engine]:
    """An engine that splits every scan into many small tasks (the merge path runs)."""
    eng = Engine.open(data_dir, EngineOptions(rows_per_task=60, workers=4))
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def default_engine(data_dir: Path) -> Iterator[Engine]:
    """An engine with default options (few, large tasks)."""
    eng = Engine.open(data_dir)
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def oracle(sky_files: dict[str, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB over the unsharded files, same table names, ADQL geometry macros loaded."""
    con = open_oracle(sky_files)
    yield con
    con.close()


class _Tables(dict[str, pa.Table]):
    """The raw tables; a short repr, as hypothesis prints the fixtures of a failing example."""

    def __repr__(self) -> str:
        return f"<raw tables {sorted(self)}>"


@pytest.fixture(scope="session")
def sky_rows(sky_files: dict[str, Path]) -> dict[str, pa.Table]:
    """The raw tables in memory, for numpy brute force."""
    return _Tables({name: pq.read_table(path) for name, path in sky_files.items()})
