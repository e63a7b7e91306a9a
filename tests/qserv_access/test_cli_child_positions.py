"""A child table with its own positions, ingested and queried through the command line.

Regression test for issue 7: Rubin's Source rows carry their own ra/dec, a few arcsec off
their Object's. Ingested with ``--ra --dec --id sourceId --director --director-key
objectId``, ``WHERE objectId = X`` read 0 chunks (the director's ids were looked up in the
child's own ``sourceId`` index) and a small cone on the sources' positions missed rows
whose object, where they are stored, lies outside the cone.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.sky.regions import angular_distance_deg
from tests.support.sky_oracle import destination
from tests.support.small_sky import make_small_sky

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "qserv_access.cli", *args],
                          capture_output=True, cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, pa.Table]:
    """A data directory with sky.object and its child sky.src (own positions 2-5 arcsec off)."""
    root = tmp_path_factory.mktemp("child_positions")
    objects_path = make_small_sky(root / "object.parquet", n=400, seed=3)
    objects = pq.read_table(objects_path)
    rng = np.random.default_rng(23)
    obj_id = np.repeat(objects.column("id").to_numpy(), 4)
    ra, dec = destination(np.repeat(objects.column("ra").to_numpy(), 4),
                          np.repeat(objects.column("dec").to_numpy(), 4),
                          rng.uniform(0, 2 * np.pi, len(obj_id)),
                          rng.uniform(2, 5, len(obj_id)) / 3600)
    src = pa.table({"sourceId": np.arange(len(obj_id), dtype=np.int64) + 10**9,
                    "objectId": obj_id, "ra": np.asarray(ra, np.float64),
                    "dec": np.clip(np.asarray(dec, np.float64), -90, 90),
                    "mjd": rng.uniform(60000, 61000, len(obj_id))})
    pq.write_table(src, root / "src.parquet")
    data = root / "data"
    for args in (["--table", "sky.object", "--ra", "ra", "--dec", "dec", "--id", "id",
                  "--max-rows-per-partition", "40", str(objects_path)],
                 ["--table", "sky.src", "--ra", "ra", "--dec", "dec", "--id", "sourceId",
                  "--director", "sky.object", "--director-key", "objectId",
                  str(root / "src.parquet")]):
        proc = run_cli("ingest", "--data-dir", str(data), "--no-progress", "--workers", "2",
                       *args)
        assert proc.returncode == 0, proc.stderr.decode()
    return data, objects, src


def _query(data: Path, adql: str) -> list[int]:
    proc = run_cli("query", "--data-dir", str(data), "--format", "json", adql)
    assert proc.returncode == 0, proc.stderr.decode()
    return sorted(row[0] for row in json.loads(proc.stdout)["data"])


def test_light_curve_by_director_key_returns_every_source(sources):
    data, objects, src = sources
    wanted = objects.column("id").to_pylist()[:12]  # the poles and the RA seam among them
    ids = src.column("objectId").to_numpy()
    for object_id in wanted[:3]:
        expected = sorted(src.column("sourceId").to_numpy()[ids == object_id].tolist())
        assert len(expected) == 4
        assert _query(data, f"SELECT sourceId FROM sky.src WHERE objectId = {object_id}"
                      ) == expected
    in_list = ", ".join(str(i) for i in wanted)
    expected = sorted(src.column("sourceId").to_numpy()[np.isin(ids, wanted)].tolist())
    assert _query(data, f"SELECT sourceId FROM sky.src WHERE objectId IN ({in_list})"
                  ) == expected


def test_director_key_lookup_reads_only_the_directors_chunk(sources):
    data, objects, _src = sources
    object_id = objects.column("id")[0].as_py()
    proc = run_cli("query", "--data-dir", str(data), "--explain",
                   f"SELECT sourceId FROM sky.src WHERE objectId = {object_id}")
    assert proc.returncode == 0, proc.stderr.decode()
    chunks = next(line for line in proc.stdout.decode().splitlines()
                  if line.startswith("chunks:"))
    assert chunks.startswith("chunks: 1 of ")


def test_small_cones_on_the_childs_own_positions_find_every_source(sources):
    data, objects, src = sources
    ra, dec = src.column("ra").to_numpy(), src.column("dec").to_numpy()
    obj_pos = {i: (r, d) for i, r, d in zip(objects.column("id").to_pylist(),
                                            objects.column("ra").to_numpy(),
                                            objects.column("dec").to_numpy(), strict=True)}
    radius = 1.5 / 3600
    # around sources at the poles and the seam, whose objects lie outside the cone
    for row in (0, 4, 8, 12, 15, 40):
        o_ra, o_dec = obj_pos[src.column("objectId")[row].as_py()]
        assert angular_distance_deg(ra[row], dec[row], o_ra, o_dec) > radius
        inside = angular_distance_deg(ra[row], dec[row], ra, dec) <= radius
        expected = sorted(src.column("sourceId").to_numpy()[inside].tolist())
        circle = f"CIRCLE({float(ra[row])!r}, {float(dec[row])!r}, {radius!r})"
        got = _query(data, f"SELECT sourceId FROM sky.src WHERE 1 = CONTAINS(POINT(ra, dec), "
                     f"{circle})")
        assert got == expected
