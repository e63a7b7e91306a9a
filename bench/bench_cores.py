"""Core scaling: ingest with 1, 2, 4, ... workers, and the full scan with as many threads.

Run ``python -m bench.bench_cores --rows 20000000 --workers 1,2,4,8,16 --out
bench/results/cores.json`` (on a machine with at least as many cores as the largest count).

Ingest: the seeded synthetic stream (``engine.ingest.synthetic``, the ``ours-stream`` run of
``bench.bench_ingest``, through its ``one_run``: a subprocess whose process tree is sampled
for RSS and whose output folder for disk), once per worker count into a fresh folder,
deleted after. Every count ingests the same parts: ``--part-rows`` defaults to
``rows / (4 * largest count)``, so that pass 1 has 4 parts per worker at the largest count
and whole rounds of parts at each smaller power of two (bench_ingest's default, 2M-row
parts, gives 10 parts at 20M: too few for 16 workers). Reported per count: wall seconds,
rows/s, speed-up over 1 worker, pass-1 and pass-2+3 seconds (from the ingest's log), the
rest (worker start, id index, HATS metadata, publishing), CPU seconds and peak RSS of the
process tree.

Full scan: on the table the last count ingested, the ``GROUP BY flags`` aggregate of
``bench.bench_billion`` through our engine (``EngineOptions(workers=T)``) and through DuckDB
reading the same published files (``SET threads = T``), for each T of the same list, in
turns, the median of ``--repeats`` after a warm-up, and the ratio ours/DuckDB.

``--extra-rows N --extra-workers W`` then ingests N rows with W workers (and scans them
with W threads), if the estimate from the runs before says it ends within
``--deadline-s`` of the start. The JSON is rewritten after every run, so that a run
stopped part way still leaves what it measured; a Markdown table goes beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from bench.bench_billion import SCAN_SELECT
from bench.bench_ingest import MAX_ROWS, one_run

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = "bench.synth"
"""The table ``bench.bench_ingest`` ingests into."""

PACKAGES = ("numpy", "pyarrow", "pandas", "duckdb", "healpy", "astropy", "hats", "sqlglot",
            "psutil")


def parse_counts(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``, with a clear error for anything else."""
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--workers takes comma-separated whole numbers, like 1,2,4; got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--workers needs counts >= 1; got {text!r}")
    return counts


def machine() -> dict[str, Any]:
    """Cores, memory, platform, processor and the versions of the packages used."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {"cpus": os.cpu_count(), "affinity_cpus": len(os.sched_getaffinity(0)),
            "cpu_model": model, "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(), "versions": versions}


def ingest(rows: int, workers: int, part_rows: int, work: Path, keep: bool,
           max_rows: int) -> dict[str, Any]:
    """One ``ours-stream`` ingest of ``bench.bench_ingest`` into ``work/out``."""
    args = argparse.Namespace(rows=rows, max_rows=max_rows, part_rows=part_rows,
                              memory_limit=None, min_free_gb=2.0, keep=keep)
    result = one_run("ours-stream", args, [], work / "out", workers=workers)
    result["workers"] = workers
    result["other_s"] = round(result["seconds"] - result.get("pass1_s", 0.0)
                              - result.get("pass2_s", 0.0), 1)
    return result


def published_glob(data_dir: Path) -> str:
    """The glob of the table's partition files (margins excluded), as bench_ingest's
    footprint reads them."""
    version = next((data_dir / "tables" / TABLE).glob("v*"))
    return str(version / "catalog" / TABLE.split(".", 1)[1] / "dataset" / "**" / "*.parquet")


def canonical(table: Any) -> list[tuple[Any, ...]]:
    """The aggregate's rows, floats rounded (the two sum in different orders)."""
    return [tuple(round(v, 4) if isinstance(v, float) else v for v in row.values())
            for row in table.sort_by("flags").to_pylist()]


def scan(data_dir: Path, threads: int, repeats: int) -> dict[str, Any]:
    """Ours and DuckDB over the same files with ``threads`` threads, in turns."""
    import duckdb

    from engine.api import Engine, EngineOptions

    eng = Engine.open(data_dir, EngineOptions(workers=threads))
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    adql = SCAN_SELECT.format(source=TABLE)
    sql = SCAN_SELECT.format(source=f"read_parquet('{published_glob(data_dir)}')")
    systems = {"ours": lambda: eng.query(adql).to_table(),
               "duckdb": lambda: con.sql(sql).to_arrow_table()}
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    got: dict[str, list[tuple[Any, ...]]] = {}
    try:
        for i in range(repeats + 1):
            order = list(systems.items())
            for name, fn in order if i % 2 == 0 else reversed(order):
                start = time.perf_counter()
                out = fn()
                if i:  # the first of each is a warm-up
                    seconds[name].append(time.perf_counter() - start)
                got[name] = canonical(out)
    finally:
        eng.close()
        con.close()
    ours, duck = (statistics.median(seconds[k]) for k in ("ours", "duckdb"))
    return {"threads": threads, "ours_ms": round(ours * 1000, 1),
            "duckdb_ms": round(duck * 1000, 1), "ours_over_duckdb": round(ours / duck, 3),
            "same_rows": got["ours"] == got["duckdb"],
            "all_ours_ms": [round(s * 1000, 1) for s in seconds["ours"]],
            "all_duckdb_ms": [round(s * 1000, 1) for s in seconds["duckdb"]],
            "load_average_1min_after": round(os.getloadavg()[0], 2)}


def speedups(runs: list[dict[str, Any]]) -> None:
    """Add each run's speed-up over the 1-worker run (when there is one)."""
    one = next((r for r in runs if r["workers"] == 1), None)
    for r in runs:
        if one is not None:
            r["speedup"] = round(r["rows_per_s"] / one["rows_per_s"], 2)
            r["efficiency"] = round(r["speedup"] / r["workers"], 2)


def main() -> None:
    """Run the benchmark and write the results files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--workers", type=parse_counts, default=[1, 2, 4, 8, 16],
                        help="comma-separated worker (and scan thread) counts")
    parser.add_argument("--part-rows", type=int, default=0,
                        help="rows per stream part (pass-1 job); default rows / (4 * largest "
                             "count)")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS,
                        help="rows per partition at most")
    parser.add_argument("--repeats", type=int, default=3, help="scan runs of each (median)")
    parser.add_argument("--extra-rows", type=int, default=0)
    parser.add_argument("--extra-workers", type=int, default=0)
    parser.add_argument("--deadline-s", type=float, default=0.0,
                        help="start the extra run only if it should end by then (0: always)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_cores"),
                        help="folder for the ingests' outputs (deleted when done)")
    parser.add_argument("--note", default="", help="where this ran, for the Markdown")
    parser.add_argument("--out", type=Path, default=RESULTS / "cores.json")
    args = parser.parse_args()
    if args.extra_rows and args.extra_workers < 1:
        parser.error("--extra-rows needs --extra-workers (the workers of that run)")
    start = time.monotonic()
    counts = sorted(set(args.workers))
    part_rows = args.part_rows or -(-args.rows // (4 * counts[-1]))
    results: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "bench.bench_cores", *sys.argv[1:]]),
        "note": args.note, "rows": args.rows, "part_rows": part_rows,
        "parts": -(-args.rows // part_rows), "max_rows_per_partition": args.max_rows,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "ingest": [], "scan": [], "scan_sql": SCAN_SELECT,
    }
    print(json.dumps(results["machine"]), flush=True)

    def save() -> None:
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results["elapsed_s"] = round(time.monotonic() - start, 1)
        write(results, args.out)

    args.work.mkdir(parents=True, exist_ok=True)
    try:
        for workers in counts:
            results["ingest"].append(ingest(args.rows, workers, part_rows, args.work,
                                            keep=workers == counts[-1], max_rows=args.max_rows))
            speedups(results["ingest"])
            save()
        for threads in counts:
            results["scan"].append(scan(args.work / "out", threads, args.repeats))
            print("scan", results["scan"][-1], flush=True)
            save()
        shutil.rmtree(args.work / "out", ignore_errors=True)
        if args.extra_rows:
            extra(args, results, start)
            save()
    finally:
        shutil.rmtree(args.work / "out", ignore_errors=True)
        with contextlib.suppress(OSError):
            args.work.rmdir()  # when empty: it may hold other things
        save()


def extra(args: argparse.Namespace, results: dict[str, Any], start: float) -> None:
    """The larger ingest (and its scan) when the estimate says it fits before the deadline."""
    same = [r for r in results["ingest"] if r["workers"] == args.extra_workers]
    rate = (same or results["ingest"])[-1]["rows_per_s"]
    estimate = args.extra_rows / rate * 1.3 + 30
    if args.deadline_s and time.monotonic() - start + estimate > args.deadline_s:
        results["extra_skipped"] = (f"estimated {estimate:.0f} s at {rate:,.0f} rows/s would "
                                    f"end after --deadline-s {args.deadline_s:.0f}")
        print(results["extra_skipped"], flush=True)
        return
    part_rows = -(-args.extra_rows // (4 * args.extra_workers))
    run = ingest(args.extra_rows, args.extra_workers, part_rows, args.work, keep=True,
                 max_rows=args.max_rows)
    run.update(rows=args.extra_rows, part_rows=part_rows)
    results["extra"] = run
    run["scan"] = scan(args.work / "out", args.extra_workers, args.repeats)
    print("scan", run["scan"], flush=True)
    shutil.rmtree(args.work / "out", ignore_errors=True)


def write(results: dict[str, Any], path: Path) -> None:
    """Write the JSON and, beside it, the Markdown tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "# Core scaling: ingest and full scan", "",
        f"`{results['command']}`" + (f", {results['note']}" if results["note"] else "")
        + f"; started {results['started']}, {results['elapsed_s']} s in all.", "",
        f"Machine: {m['cpus']} CPUs ({m['affinity_cpus']} usable; {m['cpu_model']}), "
        f"{m['ram_gib']} GiB RAM, {m['platform']}. Versions: {versions}.", "",
        *ingest_lines(results), *scan_lines(results), *extra_lines(results),
        f"Load average (1, 5, 15 min) at start {results['load_average_at_start']}, at "
        f"end {results['load_average_at_end']}.", "",
    ]
    path.with_suffix(".md").write_text("\n".join(lines))


def ingest_lines(results: dict[str, Any]) -> list[str]:
    """The ingest table."""
    head = [
        f"## Ingest: {results['rows']:,} synthetic rows (seed 42), {results['parts']} parts "
        f"of {results['part_rows']:,} rows, at most {results['max_rows_per_partition']:,} rows "
        "per partition, 10 arcsec margin, id index", "",
        "| workers | wall s | rows/s | speed-up | speed-up / workers | pass 1 s | pass 2+3 s "
        "| rest s | CPU s | peak RSS MiB (tree) | partitions | load (1 min, after) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [f"| {r['workers']} | {r['seconds']:.1f} | {r['rows_per_s']:,.0f} | "
            f"{r.get('speedup', '')} | {r.get('efficiency', '')} | {r.get('pass1_s', '')} | "
            f"{r.get('pass2_s', '')} | {r['other_s']} | {r['cpu_s']:.1f} | "
            f"{r['peak_rss_mib']:,.0f} | {r.get('partitions', '')} | "
            f"{r['load_average_1min_after']} |" for r in results["ingest"]]
    return [*head, *rows, "",
            "Wall time is the whole ingest subprocess (interpreter start and imports "
            "included). Rest = wall - pass 1 - pass 2+3: that start, the worker processes' "
            "start, the probe, the HATS metadata and publishing.", ""]


def scan_lines(results: dict[str, Any]) -> list[str]:
    """The full-scan table."""
    if not results["scan"]:
        return []
    first = results["scan"][0]
    return [
        "## Full scan of that table (the largest count's output, warm page cache)", "",
        f"`{results['scan_sql'].format(source='...')}`: ours through "
        "`Engine.open(dir, EngineOptions(workers=T))`, DuckDB over the same published "
        "files with `SET threads = T`, in turns, median of the runs after a warm-up.", "",
        "| threads | ours ms | DuckDB ms | ours/DuckDB | same rows | ours speed-up | "
        "DuckDB speed-up |", "| ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        *(f"| {s['threads']} | {s['ours_ms']} | {s['duckdb_ms']} | {s['ours_over_duckdb']} | "
          f"{s['same_rows']} | {first['ours_ms'] / s['ours_ms']:.2f} | "
          f"{first['duckdb_ms'] / s['duckdb_ms']:.2f} |" for s in results["scan"]), ""]


def extra_lines(results: dict[str, Any]) -> list[str]:
    """The larger run, or why it was skipped."""
    e = results.get("extra")
    if not e:
        skipped = results.get("extra_skipped")
        return [f"Larger run skipped: {skipped}.", ""] if skipped else []
    s = e["scan"]
    return [f"## Larger: {e['rows']:,} rows with {e['workers']} workers "
            f"({e['part_rows']:,}-row parts)", "",
            f"{e['seconds']:.1f} s, **{e['rows_per_s']:,.0f} rows/s**; pass 1 "
            f"{e.get('pass1_s')} s, pass 2+3 {e.get('pass2_s')} s ({e.get('partitions')} "
            f"partitions), rest {e['other_s']} s; CPU {e['cpu_s']:.1f} s; peak RSS "
            f"{e['peak_rss_mib']:,.0f} MiB. Full scan with {s['threads']} threads: ours "
            f"{s['ours_ms']} ms, DuckDB {s['duckdb_ms']} ms ({s['ours_over_duckdb']}x, "
            f"same rows: {s['same_rows']}).", ""]


if __name__ == "__main__":
    main()
