"""Ingest benchmark: our catalog store against hats-import on the same synthetic catalog.

Run ``python -m bench.bench_ingest [--rows 20000000]``. The catalog is
``engine.ingest.synthetic`` (seeded: 70 % uniform sky, 25 % galactic band, 5 % clusters;
id, ra, dec, five float32 magnitudes, int16 flags). Three runs, each in its own subprocess
whose whole process tree is sampled for RSS and whose output folder is sampled for disk:

- ``ours-stream``: ``ingest_batches`` straight from the generator (no input file);
- ``ours-files``: ``ingest_files`` on the same rows written as 20 Parquet files;
- ``hats-import``: its collection pipeline on those files (dask, 2 workers).

Every run keeps a 10 arcsec margin; ours also writes the id index. Reported: rows/s, peak
RSS, peak disk (staging + output, sampled every 0.5 s), published bytes per row (catalog
+ margin), id-index bytes per row, and a DuckDB full-scan aggregate over each published
catalog (best of 5). ``--scaling`` adds ``ours-stream`` with 1 worker, then 2, back to
back. Results go to ``bench/results/ingest.json`` and ``ingest.md`` (``--name`` changes
the stem). ``--only ours-stream --data-dir DIR --keep`` ingests into DIR and keeps it (the
billion-row run); the run is stopped and DIR deleted if the disk's free space falls below
``--min-free-gb``.
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
from typing import Any

import psutil
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
N_FILES = 20
MARGIN_ARCSEC = 10.0
MAX_ROWS = 1_000_000
SEED = 42
SCAN_SQL = ("SELECT flags, count(*), avg(mag_r), min(mag_g), max(dec) "
            "FROM read_parquet('{glob}') GROUP BY flags")


def generate(rows: int, out: Path) -> list[Path]:
    """Write the synthetic catalog as ``N_FILES`` Parquet files; reuse them if present."""
    from engine.ingest.synthetic import synthetic_source

    out.mkdir(parents=True, exist_ok=True)
    marker = out / f"rows_{rows}_seed_{SEED}"
    files = [out / f"part_{i:02d}.parquet" for i in range(N_FILES)]
    if marker.exists() and all(f.exists() for f in files):
        return files
    for old in out.iterdir():
        old.unlink()
    per = -(-rows // N_FILES)
    source = synthetic_source(rows, seed=SEED, part_rows=per)
    for i, path in enumerate(files):
        batches = list(source.read_part(i)) if i < source.parts else []
        with pq.ParquetWriter(path, (batches[0] if batches else next(iter(
                source.read_part(0)))).schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    marker.write_text("ok")
    return files


def run_ours(out: Path, files: list[str] | None, rows: int, workers: int) -> None:
    """Ingest with our store (in this process: called through the subprocess runner)."""
    from engine.ingest.api import ingest_batches, ingest_files
    from engine.ingest.synthetic import synthetic_source

    options: dict[str, Any] = dict(ra="ra", dec="dec", id_column="id",
                                   margin_arcsec=MARGIN_ARCSEC,
                                   max_rows_per_partition=MAX_ROWS, workers=workers,
                                   progress="always" if rows >= 10**8 else False)
    if files:
        ingest_files(out, "bench.synth", files, **options)
    else:
        # At most ~128 parts: each pass-1 job writes one spill file per sky bucket, which
        # each partition of the bucket then opens.
        part_rows = max(2_000_000, -(-rows // 128))
        ingest_batches(out, "bench.synth", synthetic_source(rows, seed=SEED,
                                                            part_rows=part_rows), **options)


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


def tree_bytes(root: Path) -> int:
    """Bytes of every file under ``root`` (files vanishing meanwhile are skipped)."""
    total = 0
    stack = [str(root)]
    while stack:
        with contextlib.suppress(OSError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
    return total


def measure(cmd: list[str], watch: Path, min_free_gb: float = 0.0,
            log_every_s: float = 0.0) -> dict[str, float]:
    """Run a command; return wall time, peak RSS of its process tree and peak bytes under
    ``watch``. Below ``min_free_gb`` free on ``watch``'s disk it is killed and ``watch``
    deleted."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=HERE.parent)
    peak = {"rss": 0, "disk": 0}
    done = threading.Event()
    stopped = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        last_log = 0.0
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                rss = 0
                for p in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                peak["rss"] = max(peak["rss"], rss)
            used = tree_bytes(watch)
            peak["disk"] = max(peak["disk"], used)
            free = shutil.disk_usage(watch).free
            if min_free_gb and free < min_free_gb * 1e9:
                print(f"free disk {free / 1e9:.1f} GB < {min_free_gb} GB: stopping", flush=True)
                stopped.set()
                for p in [*root.children(recursive=True), root]:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
                return
            now = time.monotonic() - start
            if log_every_s and now - last_log >= log_every_s:
                last_log = now
                print(f"[{now:7.0f} s] disk {used / 1e9:6.1f} GB, rss "
                      f"{rss / 2**30:4.1f} GiB, free {free / 1e9:5.1f} GB", flush=True)
            time.sleep(0.5)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = proc.wait()
    done.set()
    thread.join()
    if stopped.is_set():
        shutil.rmtree(watch, ignore_errors=True)
        raise SystemExit(f"stopped: the disk's free space fell below {min_free_gb} GB; "
                         f"{watch} was deleted")
    if code != 0:
        raise SystemExit(f"{cmd} failed with exit code {code}")
    return {"seconds": time.monotonic() - start, "peak_rss_mib": peak["rss"] / 2**20,
            "peak_disk_mb": peak["disk"] / 1e6}


def scan_seconds(glob: str) -> float:
    """Best of 5 DuckDB runs (2 threads) of a full-scan aggregate over ``glob``."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads=2")
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        con.execute(SCAN_SQL.format(glob=glob)).fetchall()
        best = min(best, time.perf_counter() - t0)
    return best


def footprint(out: Path, rows: int, tool: str) -> dict[str, float]:
    """Published bytes per row (catalog + margin, no id index) and id-index bytes per row."""
    if tool == "hats-import":
        shutil.rmtree(out / "tmp", ignore_errors=True)
        shutil.rmtree(out / "dask", ignore_errors=True)
        total, index = tree_bytes(out), 0
        glob = str(out / "bench" / "bench" / "dataset" / "**" / "*.parquet")
    else:
        version = next((out / "tables" / "bench.synth").glob("v*"))
        index = (version / "id_index.parquet").stat().st_size
        total = tree_bytes(version) - index
        glob = str(version / "catalog" / "synth" / "dataset" / "**" / "*.parquet")
    return {"published_bytes_per_row": total / rows, "published_gb": total / 1e9,
            "id_index_bytes_per_row": index / rows, "scan_s": scan_seconds(glob)}


def one_run(name: str, args: argparse.Namespace, files: list[str], out: Path,
            workers: int = 2) -> dict[str, float]:
    """Run one tool into ``out`` and return its figures."""
    me = [sys.executable, "-m", "bench.bench_ingest", "--rows", str(args.rows)]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if name == "hats-import":
        cmd = [*me, "--run", "hats-import", "--out", str(out), "--files", *files]
    else:
        cmd = [*me, "--run", "ours", "--out", str(out), "--workers", str(workers),
               *(["--files", *files] if name == "ours-files" else [])]
    m = measure(cmd, out, args.min_free_gb, log_every_s=60 if args.rows >= 10**8 else 0)
    m["rows_per_s"] = args.rows / m["seconds"]
    m.update(footprint(out, args.rows, name))
    m["peak_disk_over_published"] = m["peak_disk_mb"] / 1e3 / (
        m["published_gb"] + m["id_index_bytes_per_row"] * args.rows / 1e9)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    result = {k: round(v, 3 if v < 100 else 1) for k, v in m.items()}
    print(name, result, flush=True)
    return result


def main() -> None:
    """Run the benchmark and write the results files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--only", choices=["ours-stream", "ours-files", "hats-import"])
    parser.add_argument("--scaling", action="store_true", help="also 1 vs 2 workers")
    parser.add_argument("--data-dir", help="ingest here (with --only ours-stream)")
    parser.add_argument("--keep", action="store_true", help="keep the output")
    parser.add_argument("--min-free-gb", type=float, default=10.0)
    parser.add_argument("--name", default="ingest", help="results file stem")
    parser.add_argument("--run", choices=["ours", "hats-import"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "ours":
        run_ours(Path(args.out), args.files, args.rows, args.workers)
        return
    if args.run == "hats-import":
        run_hats_import(args.files, Path(args.out))
        return

    names = [args.only] if args.only else ["ours-stream", "ours-files", "hats-import"]
    results: dict[str, Any] = {
        "rows": args.rows, "margin_arcsec": MARGIN_ARCSEC, "max_rows_per_partition": MAX_ROWS,
        "seed": SEED, "cpus": os.cpu_count(), "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "scan_sql": SCAN_SQL,
    }
    files: list[str] = []
    if set(names) & {"ours-files", "hats-import"}:
        t0 = time.monotonic()
        files = [str(f) for f in generate(args.rows, WORK / "input")]
        results["generate_seconds"] = round(time.monotonic() - t0, 1)
        results["input_bytes_per_row"] = round(
            sum(os.path.getsize(f) for f in files) / args.rows, 2)
        results["input_scan_s"] = round(scan_seconds(str(WORK / "input" / "*.parquet")), 3)
    for name in names:
        out = Path(args.data_dir) if args.data_dir else WORK / f"out_{name}"
        results[name] = one_run(name, args, files, out)
    if args.scaling:
        for workers in (1, 2):
            results[f"ours-stream-{workers}-worker"] = one_run(
                "ours-stream", args, files, WORK / "out_scaling", workers=workers)
        one, two = results["ours-stream-1-worker"], results["ours-stream-2-worker"]
        results["scaling_2_over_1"] = round(two["rows_per_s"] / one["rows_per_s"], 2)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_results(results, args.name)


def write_results(results: dict[str, Any], name: str) -> None:
    """Write ``<name>.json`` and a Markdown table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    rows = results["rows"]
    lines = [
        "# Ingest benchmark",
        "",
        f"`python -m bench.bench_ingest --rows {rows}` on {results['cpus']} CPUs "
        f"({results['machine']}), started {results['started']}: {rows:,} synthetic rows "
        f"(seed {results['seed']}), margin {results['margin_arcsec']} arcsec, at most "
        f"{results['max_rows_per_partition']:,} rows per partition. Ours writes the id "
        "index too; hats-import has no id index.",
        "",
        "| run | workers | seconds | rows/s | peak RSS MiB (tree) | peak disk MB | peak disk "
        "/ published | published B/row | id index B/row | scan s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key in ("ours-stream", "ours-files", "hats-import", "ours-stream-1-worker",
                "ours-stream-2-worker"):
        r = results.get(key)
        if not isinstance(r, dict):
            continue
        workers = "1" if key.endswith("1-worker") else "2"
        lines.append(
            f"| {key} | {workers} | {r['seconds']} | {r['rows_per_s']:,.0f} | "
            f"{r['peak_rss_mib']:,.0f} | {r['peak_disk_mb']:,.0f} | "
            f"{r['peak_disk_over_published']} | {r['published_bytes_per_row']} | "
            f"{r['id_index_bytes_per_row']} | {r['scan_s']} |")
    lines.append("")
    if "input_bytes_per_row" in results:
        lines.append(f"Input Parquet files (pyarrow defaults): {results['input_bytes_per_row']} "
                     f"B/row; DuckDB scan of them: {results['input_scan_s']} s.")
    if "scaling_2_over_1" in results:
        lines.append(f"2 workers / 1 worker (ours-stream, back to back): "
                     f"**{results['scaling_2_over_1']}x**.")
    lines += [
        f"Scan: `{results['scan_sql']}`, DuckDB 2 threads, best of 5, warm.",
        "",
        f"Load average (1, 5, 15 min) at start {results['load_average_at_start']}, at end "
        f"{results['load_average_at_end']}: other jobs shared the machine when it is above 0.",
        "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
