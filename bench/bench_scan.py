"""Full-scan benchmark: ours against DuckDB back to back, and concurrent scans against one.

Run ``python -m bench.bench_scan [--rows 20000000] [--repeats 9] [--clients 4]`` after
``bench.bench_query`` has built its data (``bench/work``). On a machine other people use,
a comparison is only fair when the two run in turns under the same load, so this runs the
full-scan aggregate (``GROUP BY flags``) with ours (``Engine.query`` in-process, default
options) and with DuckDB over the raw input files (2 threads, as ours), alternating, and
reports the median wall time and the median CPU time (user + system of this process) of
each. CPU time is less sensitive to other people's load than wall time.

It also times ``SELECT COUNT(*)`` end to end (answered from the manifest). Then the
same query from ``--clients`` threads at once on one engine (as the TAP service
runs them) against one alone, alternating too: the time until the last finishes over
the time of one.

Results go to ``bench/results/scan.json`` and ``scan.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_query import data_dir, input_dir

RESULTS = Path(__file__).resolve().parent / "results"
COUNT = "SELECT COUNT(*) AS n FROM bench.synth"
ADQL = "SELECT flags, COUNT(*) AS n, AVG(mag_g) AS m FROM bench.synth GROUP BY flags"


def duck_sql(rows: int) -> str:
    return (f"SELECT flags, COUNT(*) AS n, AVG(mag_g) AS m "
            f"FROM read_parquet('{input_dir(rows)}/*.parquet') GROUP BY flags")


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds (all threads of this process) and the result of ``fn``."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def canonical(table: Any) -> list[tuple[Any, ...]]:
    rows = table.sort_by("flags").to_pylist()
    return [(r["flags"], r["n"], round(r["m"], 6)) for r in rows]


def compare(rows: int, repeats: int) -> dict[str, Any]:
    """Ours and DuckDB in turns; the first run of each is a warm-up."""
    import duckdb

    from engine.api import Engine

    eng = Engine.open(data_dir(rows))
    con = duckdb.connect()
    con.execute("SET threads = 2")
    sql = duck_sql(rows)
    systems = {"ours": lambda: eng.query(ADQL).to_table(),
               "duckdb": lambda: con.sql(sql).to_arrow_table()}
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in systems}
    results = {}
    for i in range(repeats + 1):
        for name, fn in (systems.items() if i % 2 == 0 else reversed(systems.items())):
            wall, cpu, out = timed(fn)
            results[name] = canonical(out)
            if i:
                samples[name].append((wall, cpu))
    counts = [timed(lambda: eng.query(COUNT).to_table())[0] for _ in range(21)][1:]
    eng.close()
    out: dict[str, Any] = {"same_rows": results["ours"] == results["duckdb"],
                           "count_star_ms": round(statistics.median(counts) * 1000, 2)}
    for name, got in samples.items():
        out[name] = {"wall_ms": round(statistics.median(w for w, _ in got) * 1000, 1),
                     "cpu_ms": round(statistics.median(c for _, c in got) * 1000, 1),
                     "all_wall_ms": [round(w * 1000, 1) for w, _ in got]}
    out["ours/duckdb wall"] = round(out["ours"]["wall_ms"] / out["duckdb"]["wall_ms"], 3)
    out["ours/duckdb cpu"] = round(out["ours"]["cpu_ms"] / out["duckdb"]["cpu_ms"], 3)
    return out


def concurrent(rows: int, repeats: int, clients: int) -> dict[str, Any]:
    """``clients`` threads running the scan at once on one engine, against one alone."""
    from engine.api import Engine

    eng = Engine.open(data_dir(rows))

    def one() -> float:
        return timed(lambda: eng.query(ADQL).to_table())[0]

    def many() -> float:
        start = time.perf_counter()
        threads = [threading.Thread(target=lambda: eng.query(ADQL).to_table())
                   for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start

    one()
    alone, together = [], []
    for _ in range(repeats):
        alone.append(one())
        together.append(many())
    eng.close()
    a, t = statistics.median(alone), statistics.median(together)
    return {"clients": clients, "alone_ms": round(a * 1000, 1),
            "together_ms": round(t * 1000, 1), "ratio": round(t / a, 2),
            "all_alone_ms": [round(x * 1000, 1) for x in alone],
            "all_together_ms": [round(x * 1000, 1) for x in together]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument("--out", type=Path, default=RESULTS / "scan.json")
    parser.add_argument("--baseline", type=Path,
                        help="a JSON file this wrote for other code, shown beside this run")
    args = parser.parse_args()
    if not (data_dir(args.rows) / "tables" / "bench.synth" / "CURRENT").exists():
        sys.exit(f"No data at {data_dir(args.rows)}: run python -m bench.bench_query first.")
    results: dict[str, Any] = {
        "command": " ".join(["python -m bench.bench_scan", *sys.argv[1:]]),
        "label": args.label, "rows": args.rows, "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    results["compare"] = compare(args.rows, args.repeats)
    print(json.dumps(results["compare"]), flush=True)
    results["concurrent"] = concurrent(args.rows, max(3, args.repeats // 2), args.clients)
    print(json.dumps(results["concurrent"]), flush=True)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.baseline:
        results["baseline"] = json.loads(args.baseline.read_text())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    write_markdown(results, args.out.with_suffix(".md"))


def write_markdown(results: dict[str, Any], path: Path) -> None:
    c, k = results["compare"], results["concurrent"]
    lines = [
        "# Full-scan benchmark", "",
        f"`{results['command']}` on {results['cpus']} CPUs ({results['machine']})"
        + (f"; {results['label']}" if results["label"] else "") + f", {results['rows']:,} "
        "rows. `GROUP BY flags` (count and mean of a float column) over the whole table, "
        "ours and DuckDB over the raw input files run in turns; medians after a warm-up.",
        "", "| | ours | DuckDB (raw files) | ours/DuckDB |", "| --- | ---: | ---: | ---: |",
        f"| wall ms | {c['ours']['wall_ms']} | {c['duckdb']['wall_ms']} | "
        f"{c['ours/duckdb wall']} |",
        f"| CPU ms (this process) | {c['ours']['cpu_ms']} | {c['duckdb']['cpu_ms']} | "
        f"{c['ours/duckdb cpu']} |", "",
        f"Same rows from both: {c['same_rows']}. `{COUNT}` (answered from metadata): "
        f"{c['count_star_ms']} ms, median of 20 end to end.", "",
        f"{k['clients']} clients at once on one engine: {k['together_ms']} ms until the last "
        f"finished, against {k['alone_ms']} ms for one alone ({k['ratio']}x).", "",
        f"Load average at start {results['load_average_at_start']}, at end "
        f"{results['load_average_at_end']}: the machine is shared by other work.", ""]
    base = results.get("baseline")
    if base:
        b, bk = base["compare"], base["concurrent"]
        lines += [f"Baseline ({base['label']}, `{base['command']}`, same data, run just "
                  f"before): ours {b['ours']['wall_ms']} ms wall / {b['ours']['cpu_ms']} ms "
                  f"CPU, DuckDB {b['duckdb']['wall_ms']} / {b['duckdb']['cpu_ms']} ms "
                  f"(ratios {b['ours/duckdb wall']} wall, {b['ours/duckdb cpu']} CPU); "
                  f"COUNT(*) {b['count_star_ms']} ms; {bk['clients']} clients "
                  f"{bk['ratio']}x one.", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
