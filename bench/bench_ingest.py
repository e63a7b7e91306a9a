"""Ingest benchmark: our catalog store against hats-import on the same synthetic catalog.

Run ``python -m bench.bench_ingest [--rows 20000000]``. It generates 20 Parquet files under
``bench/work/`` (70 % uniform sky, 30 % in the galactic band |b| < 10 deg), ingests them
with ours (``engine.ingest.ingest_files``, 10 arcsec margin, id index) and with hats-import
(collection pipeline with a 10 arcsec margin, dask local cluster of 2 workers), each in its
own subprocess whose whole process tree is sampled for RSS, then ingests the Tycho-2 file
if present. Results go to ``bench/results/ingest.json`` and ``ingest.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
TYCHO = Path("/work/shared/data/catalogs/tycho2_an4107.parquet")
N_FILES = 20
MARGIN_ARCSEC = 10.0
MAX_ROWS = 1_000_000


def generate(rows: int, out: Path, seed: int = 42) -> list[Path]:
    """Write the synthetic catalog as ``N_FILES`` Parquet files; reuse them if present."""
    from astropy.coordinates import SkyCoord

    out.mkdir(parents=True, exist_ok=True)
    marker = out / f"rows_{rows}"
    files = [out / f"part_{i:02d}.parquet" for i in range(N_FILES)]
    if marker.exists() and all(f.exists() for f in files):
        return files
    rng = np.random.default_rng(seed)
    per = rows // N_FILES
    for i, path in enumerate(files):
        n = per if i < N_FILES - 1 else rows - per * (N_FILES - 1)
        n_band = int(n * 0.3)
        ra = rng.uniform(0, 360, n)
        dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
        gl = rng.uniform(0, 360, n_band)
        gb = np.degrees(np.arcsin(rng.uniform(-np.sin(np.radians(10)), np.sin(np.radians(10)),
                                              n_band)))
        icrs = SkyCoord(l=gl, b=gb, unit="deg", frame="galactic").icrs
        ra[:n_band], dec[:n_band] = icrs.ra.deg, icrs.dec.deg
        perm = rng.permutation(n)
        cols = {
            "id": np.arange(n, dtype=np.int64) + i * per,
            "ra": ra[perm], "dec": dec[perm],
            **{f"mag_{b}": rng.uniform(12, 25, n).astype(np.float32) for b in "ugriz"},
            "flags": rng.integers(0, 1024, n).astype(np.int16),
        }
        pq.write_table(pa.table(cols), path, row_group_size=250_000)
    marker.write_text("ok")
    return files


def run_ours(files: list[str], out: Path, table: str, ra: str, dec: str, id_col: str) -> None:
    """Ingest with our store (in this process: called through the subprocess runner)."""
    from engine.ingest.api import ingest_files

    ingest_files(out, table, files, ra=ra, dec=dec, id_column=id_col or None,
                 margin_arcsec=MARGIN_ARCSEC, max_rows_per_partition=MAX_ROWS, workers=2,
                 progress=False)


def run_hats_import(files: list[str], out: Path) -> None:
    """Ingest with hats-import's documented collection pipeline on a 2-worker dask cluster."""
    from dask.distributed import Client
    from hats_import.collection.arguments import CollectionArguments
    from hats_import.pipeline import pipeline_with_client

    args = (
        CollectionArguments(output_artifact_name="bench", output_path=str(out),
                            progress_bar=False, tmp_dir=str(out / "tmp"))
        .catalog(input_file_list=files, file_reader="parquet", ra_column="ra",
                 dec_column="dec", pixel_threshold=MAX_ROWS)
        .add_margin(margin_threshold=MARGIN_ARCSEC, is_default=True)
    )
    with Client(n_workers=2, threads_per_worker=1, memory_limit="8GB",
                local_directory=str(out / "dask")) as client:
        pipeline_with_client(args, client)


def measure(cmd: list[str]) -> dict[str, float]:
    """Run a command; return wall time and peak RSS of its whole process tree."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=HERE.parent)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                rss = 0
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                peak = max(peak, rss)
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = proc.wait()
    done.set()
    thread.join()
    if code != 0:
        raise SystemExit(f"{cmd} failed with exit code {code}")
    return {"seconds": time.monotonic() - start, "peak_rss_mib": peak / 2**20}


def main() -> None:
    """Run the benchmark and write the results files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--run", choices=["ours", "hats-import"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--table", default="bench.synth", help=argparse.SUPPRESS)
    parser.add_argument("--cols", default="ra,dec,id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "ours":
        ra, dec, id_col = args.cols.split(",")
        run_ours(args.files, Path(args.out), args.table, ra, dec, id_col)
        return
    if args.run == "hats-import":
        run_hats_import(args.files, Path(args.out))
        return

    t0 = time.monotonic()
    files = [str(f) for f in generate(args.rows, WORK / "input")]
    gen_s = time.monotonic() - t0
    me = [sys.executable, "-m", "bench.bench_ingest"]
    results: dict[str, object] = {
        "rows": args.rows, "files": N_FILES, "margin_arcsec": MARGIN_ARCSEC,
        "max_rows_per_partition": MAX_ROWS, "generate_seconds": round(gen_s, 1),
        "cpus": os.cpu_count(), "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    for name in ("ours", "hats-import"):
        out = WORK / f"out_{name}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        m = measure([*me, "--run", name, "--out", str(out), "--files", *files])
        m["rows_per_s"] = args.rows / m["seconds"]
        results[name] = {k: round(v, 1) for k, v in m.items()}
        print(name, results[name], flush=True)
        shutil.rmtree(out, ignore_errors=True)
    ours, theirs = results["ours"], results["hats-import"]
    assert isinstance(ours, dict)
    assert isinstance(theirs, dict)
    results["speedup"] = round(ours["rows_per_s"] / theirs["rows_per_s"], 2)
    results["memory_ratio"] = round(ours["peak_rss_mib"] / theirs["peak_rss_mib"], 2)
    if TYCHO.exists():
        out = WORK / "out_tycho"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        m = measure([*me, "--run", "ours", "--out", str(out), "--table", "ref.tycho2",
                     "--cols", "ra,dec,", "--files", str(TYCHO)])
        nrows = pq.ParquetFile(TYCHO).metadata.num_rows
        m["rows"] = nrows
        m["rows_per_s"] = nrows / m["seconds"]
        results["tycho2"] = {k: round(v, 1) for k, v in m.items()}
        shutil.rmtree(out, ignore_errors=True)
    else:
        results["tycho2"] = "skipped: file absent"
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_results(results)


def write_results(results: dict[str, object]) -> None:
    """Write ``ingest.json`` and a small Markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=1) + "\n")
    ours, theirs = results["ours"], results["hats-import"]
    assert isinstance(ours, dict)
    assert isinstance(theirs, dict)
    lines = [
        "# Ingest benchmark",
        "",
        f"`python -m bench.bench_ingest --rows {results['rows']}` on {results['cpus']} CPUs "
        f"({results['machine']}): {results['rows']:,} rows in {results['files']} Parquet "
        f"files, margin {results['margin_arcsec']} arcsec, at most "
        f"{results['max_rows_per_partition']:,} rows per partition.",
        "",
        "| tool | seconds | rows/s | peak RSS (MiB, process tree) |",
        "| --- | ---: | ---: | ---: |",
        f"| qserv-access (with id index) | {ours['seconds']} | {ours['rows_per_s']:,.0f} | "
        f"{ours['peak_rss_mib']:,.0f} |",
        f"| hats-import (2 dask workers) | {theirs['seconds']} | {theirs['rows_per_s']:,.0f} | "
        f"{theirs['peak_rss_mib']:,.0f} |",
        "",
        f"Speed-up: **{results['speedup']}x**; memory ratio (ours/theirs): "
        f"{results['memory_ratio']}.",
        "",
        f"Tycho-2 (1.9 M rows, one file, ours): {results['tycho2']}",
        "",
        f"Load average (1, 5, 15 min) at start {results['load_average_at_start']}, at end "
        f"{results['load_average_at_end']}: other jobs shared the machine when it is above 0.",
        "",
    ]
    (RESULTS / "ingest.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
