"""The ingest workflow's benchmark step measures real queries, embedded and through a real
TAP service on loopback, on a table ingested here; CI's end-to-end pyvo checks pass against
the same service."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.ingest.api import ingest_files
from tests.deploy.commands import benchmark_module
from tests.deploy.manifests import DEPLOY
from tests.support.postgres import free_port
from tests.support.small_sky import make_small_sky
from tests.support.tap_server import running_tap_server


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("benchmark")
    source = make_small_sky(root / "sky.parquet", n=2000)
    ingest_files(root / "data", "bench.sky", [str(source)], ra="ra", dec="dec",
                 id_column="id", workers=1)
    return root / "data"


@pytest.fixture(scope="module")
def tap_url(data_dir: Path) -> Iterator[str]:
    with running_tap_server(data_dir, data_dir.parent / "tap", free_port()) as url:
        yield url


def test_benchmark_times_cones_and_id_lookups(data_dir: Path, tap_url: str,
                                              tmp_path: Path) -> None:
    out = tmp_path / "benchmark.json"
    args = ["--data-dir", str(data_dir), "--table", "bench.sky", "--ra", "ra", "--dec", "dec",
            "--id", "id", "--repeats", "2", "--rows", "2", "--output", str(out)]
    assert benchmark_module().main([*args, "--tap-url", tap_url]) == 0
    results = json.loads(out.read_text())
    assert {(r["path"], r["query"]) for r in results} == {
        ("embedded", "cone_1arcmin"), ("embedded", "id_lookup"),
        ("tap", "cone_1arcmin"), ("tap", "id_lookup")}
    for result in results:
        assert result["runs"] == 4  # 2 rows x 2 repeats
        assert 0 < result["median_s"] <= result["max_s"]
        # an id names one row; a cone around a row's position holds at least that row
        assert result["rows_last"] == 1 if result["query"] == "id_lookup" \
            else result["rows_last"] >= 1


def test_benchmark_names_a_missing_table(data_dir: Path) -> None:
    with pytest.raises(SystemExit, match=r"^qserv-access-benchmark: error: .*'bench\.missing'"):
        benchmark_module().main(["--data-dir", str(data_dir), "--table", "bench.missing",
                                 "--ra", "ra", "--dec", "dec", "--id", "id"])


def test_ci_end_to_end_checks_pass(tap_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("check_tap", DEPLOY / "e2e" / "check_tap.py")
    assert spec is not None and spec.loader is not None
    check_tap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_tap)
    assert check_tap.main(tap_url, "bench.sky", 2000) == 0
    assert "sync: bench.sky holds 2000 rows" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="holds 2000 rows, expected 2001"):
        check_tap.main(tap_url, "bench.sky", 2001)
