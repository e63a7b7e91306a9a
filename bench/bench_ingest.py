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

``--baseline DIR`` runs ``ours-stream`` with the ``engine`` package of another code tree
(e.g. ``git archive COMMIT engine | tar -x -C DIR``) in turns with this one, ``--repeats``
times each; ``--memory-limit 3G`` runs every ingest in a cgroup with that memory limit
(page cache included), so that the spill does not fit in the page cache, as at 1e9 rows.
Each run reports its pass-1 and pass-2+3 seconds (from the ingest's log).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import re
import resource
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


PASS_LOG = re.compile(r"pass (1|2\+3) \((\d+) (?:parts|partitions)\): ([\d.]+) s")
"""The ingest's log lines giving each pass's time (engine.ingest.api)."""


def run_ours(out: Path, files: list[str] | None, args: argparse.Namespace) -> None:
    """Ingest with our store (in this process: called through the subprocess runner), with
    the engine of ``args.code`` when given; write the passes' times to ``out/passes.json``."""
    if args.code:
        sys.path.insert(0, args.code)  # spawned workers inherit it
    from engine.ingest.api import ingest_batches, ingest_files
    from engine.ingest.synthetic import synthetic_source

    rows = args.rows
    passes: dict[str, float] = {}

    class Passes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found = PASS_LOG.search(record.getMessage())
            if found:
                if found[1] == "1":
                    passes["pass1_s"], passes["parts"] = float(found[3]), int(found[2])
                else:
                    passes["pass2_s"], passes["partitions"] = float(found[3]), int(found[2])

    logger = logging.getLogger("engine.ingest.api")
    logger.setLevel(logging.INFO)
    logger.addHandler(Passes())
    options: dict[str, Any] = dict(ra="ra", dec="dec", id_column="id",
                                   margin_arcsec=MARGIN_ARCSEC,
                                   max_rows_per_partition=args.max_rows, workers=args.workers,
                                   progress="always" if rows >= 10**8 else False)
    if files:
        ingest_files(out, "bench.synth", files, **options)
    else:
        # At most ~128 parts: each pass-1 job writes one spill file per sky bucket, which
        # each partition of the bucket then opens.
        part_rows = args.part_rows or max(2_000_000, -(-rows // 128))
        ingest_batches(out, "bench.synth", synthetic_source(rows, seed=SEED,
                                                            part_rows=part_rows), **options)
    engine_dir = Path(sys.modules["engine"].__file__ or "").parent.parent
    (out / "passes.json").write_text(json.dumps({**passes, "code": str(engine_dir)}))


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


def memory_cgroup(limit: str) -> Path:
    """Create (or reuse) the cgroup ``bench_ingest`` with a memory limit (``3G``): v2 when
    the unified hierarchy is mounted at /sys/fs/cgroup, else v1's memory controller."""
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    group = Path("/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory") / "bench_ingest"
    group.mkdir(exist_ok=True)
    (group / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(limit)
    return group


def measure(cmd: list[str], watch: Path, min_free_gb: float = 0.0,
            log_every_s: float = 0.0, cgroup: Path | None = None) -> dict[str, float]:
    """Run a command (in ``cgroup`` when given); return wall time, CPU time (user + system,
    its process tree), peak RSS of its process tree and peak bytes under ``watch``. Below
    ``min_free_gb`` free on ``watch``'s disk it is killed and ``watch`` deleted."""
    start = time.monotonic()

    def enter_cgroup() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, cwd=HERE.parent, preexec_fn=enter_cgroup)
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"seconds": time.monotonic() - start, "cpu_s": cpu,
            "peak_rss_mib": peak["rss"] / 2**20, "peak_disk_mb": peak["disk"] / 1e6}


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
            workers: int = 2, code: str | None = None) -> dict[str, Any]:
    """Run one tool into ``out`` (ours with the engine of ``code`` when given) and return
    its figures."""
    me = [sys.executable, "-m", "bench.bench_ingest", "--rows", str(args.rows),
          "--max-rows", str(args.max_rows), "--part-rows", str(args.part_rows)]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if name == "hats-import":
        cmd = [*me, "--run", "hats-import", "--out", str(out), "--files", *files]
    else:
        cmd = [*me, "--run", "ours", "--out", str(out), "--workers", str(workers),
               *(["--code", code] if code else []),
               *(["--files", *files] if name == "ours-files" else [])]
    cgroup = memory_cgroup(args.memory_limit) if args.memory_limit else None
    m = measure(cmd, out, args.min_free_gb, log_every_s=60 if args.rows >= 10**8 else 0,
                cgroup=cgroup)
    m["rows_per_s"] = args.rows / m["seconds"]
    m["load_average_1min_after"] = os.getloadavg()[0]
    if (out / "passes.json").exists():
        m.update(json.loads((out / "passes.json").read_text()))
        (out / "passes.json").unlink()
    if "pass2_s" in m:
        m["pass2_s_per_partition"] = m["pass2_s"] / max(m["partitions"], 1)
    m.update(footprint(out, args.rows, name))
    m["peak_disk_over_published"] = m["peak_disk_mb"] / 1e3 / (
        m["published_gb"] + m["id_index_bytes_per_row"] * args.rows / 1e9)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    result = {k: round(v, 3 if v < 100 else 1) if isinstance(v, float) else v
              for k, v in m.items()}
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
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS,
                        help="rows per partition at most")
    parser.add_argument("--part-rows", type=int, default=0,
                        help="rows per stream part (pass-1 job); default: max(2M, rows/128)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run ours-stream with the engine package under DIR")
    parser.add_argument("--repeats", type=int, default=1,
                        help="with --baseline: runs of each, in turns")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="run each ingest in a cgroup with this memory limit (e.g. 3G)")
    parser.add_argument("--work", default=str(WORK), help="folder for inputs and outputs")
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--run", choices=["ours", "hats-import"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "ours":
        run_ours(Path(args.out), args.files, args)
        return
    if args.run == "hats-import":
        run_hats_import(args.files, Path(args.out))
        return

    names = [args.only] if args.only else ["ours-stream", "ours-files", "hats-import"]
    results: dict[str, Any] = {
        "command": "python -m bench.bench_ingest " + " ".join(sys.argv[1:]),
        "rows": args.rows, "margin_arcsec": MARGIN_ARCSEC,
        "max_rows_per_partition": args.max_rows, "part_rows": args.part_rows or None,
        "memory_limit": args.memory_limit, "workers": args.workers,
        "seed": SEED, "cpus": os.cpu_count(), "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "scan_sql": SCAN_SQL,
    }
    files: list[str] = []
    if set(names) & {"ours-files", "hats-import"}:
        t0 = time.monotonic()
        files = [str(f) for f in generate(args.rows, Path(args.work) / "input")]
        results["generate_seconds"] = round(time.monotonic() - t0, 1)
        results["input_bytes_per_row"] = round(
            sum(os.path.getsize(f) for f in files) / args.rows, 2)
        results["input_scan_s"] = round(scan_seconds(str(Path(args.work) / "input" /
                                                     "*.parquet")), 3)
    if args.baseline:
        runs: dict[str, list[dict[str, float]]] = {"baseline-stream": [], "ours-stream": []}
        for _ in range(args.repeats):
            for key, code in (("baseline-stream", args.baseline), ("ours-stream", None)):
                runs[key].append(one_run("ours-stream", args, files, Path(args.work) / "out_turns",
                                         workers=args.workers, code=code))
        results.update(runs)
        names = []
    for name in names:
        out = Path(args.data_dir) if args.data_dir else Path(args.work) / f"out_{name}"
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
        f"`{results['command']}` on {results['cpus']} CPUs "
        f"({results['machine']}), started {results['started']}: {rows:,} synthetic rows "
        f"(seed {results['seed']}), margin {results['margin_arcsec']} arcsec, at most "
        f"{results['max_rows_per_partition']:,} rows per partition"
        + (f", {results['part_rows']:,} rows per stream part" if results["part_rows"] else "")
        + (f", every ingest in a cgroup limited to {results['memory_limit']} of memory (page "
           "cache included)" if results["memory_limit"] else "")
        + ". Ours writes the id index too; hats-import has no id index.",
        "",
        "| run | workers | seconds | rows/s | CPU s | peak RSS MiB (tree) | peak disk MB | "
        "peak disk / published | published B/row | id index B/row | scan s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    turns = [(key, i + 1, r) for key in ("baseline-stream", "ours-stream")
             if isinstance(results.get(key), list) for i, r in enumerate(results[key])]
    single = [(key, 0, results[key]) for key in (
        "ours-stream", "ours-files", "hats-import", "ours-stream-1-worker",
        "ours-stream-2-worker") if isinstance(results.get(key), dict)]
    for key, turn, r in sorted(turns, key=lambda t: t[1]) + single:
        workers = "1" if key.endswith("1-worker") else str(results.get("workers", 2))
        key = f"{key} (turn {turn})" if turn else key
        lines.append(
            f"| {key} | {workers} | {r['seconds']} | {r['rows_per_s']:,.0f} | "
            f"{r.get('cpu_s', '')} | "
            f"{r['peak_rss_mib']:,.0f} | {r['peak_disk_mb']:,.0f} | "
            f"{r['peak_disk_over_published']} | {r['published_bytes_per_row']} | "
            f"{r['id_index_bytes_per_row']} | {r['scan_s']} |")
    lines.append("")
    if turns:
        lines += ["Passes (from the ingest's log; pass 2+3 writes partitions, then margins), "
                  "with the 1-minute load average when each run ended:", "",
                  "| run | pass 1 s | pass 2+3 s | pass 2+3 s per partition | partitions | "
                  "load average |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for key, turn, r in sorted(turns, key=lambda t: t[1]):
            lines.append(f"| {key} (turn {turn}) | {r.get('pass1_s')} | {r.get('pass2_s')} "
                         f"| {r.get('pass2_s_per_partition')} | {r.get('partitions')} | "
                         f"{r['load_average_1min_after']} |")
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
