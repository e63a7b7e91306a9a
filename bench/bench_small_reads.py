"""Small reads on two layouts of the same table: the same code, the two tables in turns.

A layout change (row-group size, page index, id-index row groups) shows only on a table
ingested with it, so this opens two data directories holding the same rows (e.g. one
ingested before the change and one after) in one process and runs each query on both in
turns (who goes first alternating), checking that both answer the same rows. For each it
reports the median wall time and the mean CPU time of the process (all threads), which a
loaded machine disturbs less than the wall time::

    python -m bench.bench_small_reads --table before=/tmp/B/m20a --table after=/tmp/B/m20c \\
        --rows 20000000 --runs 60 --scan-runs 15

Results go to ``bench/results/small_reads.json`` and ``small_reads.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
CONE = ("SELECT id, ra, dec, mag_r FROM sim.object WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', {ra}, {dec}, {r}))")
QUERIES = {"cone 1\u2032": CONE.replace("{r}", str(1 / 60)),
           "cone 1\u00b0": CONE.replace("{r}", "1.0"),
           "id lookup": "SELECT * FROM sim.object WHERE id = {id}",
           "scan GROUP BY flags": "SELECT flags, COUNT(*) AS n, AVG(mag_g) AS m FROM sim.object "
                                  "GROUP BY flags"}
"""``bench_latency``'s queries (a new cone centre near (266.4, -28.9) and a new id each run)
and ``bench_scan``'s full-scan aggregate."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rows(table: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=repr)


def measure(tables: dict[str, str], rows: int, runs: int, scan_runs: int) -> dict[str, Any]:
    """Each query on every table in turns; wall median and CPU mean (ms) per table."""
    from engine.api import Engine

    engines = {name: Engine.open(path) for name, path in tables.items()}
    out: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    try:
        for label, template in QUERIES.items():
            rng = random.Random(7)
            walls: dict[str, list[float]] = {n: [] for n in tables}
            cpus: dict[str, list[float]] = {n: [] for n in tables}
            for run in range((scan_runs if label.startswith("scan") else runs) + 1):
                adql = template.format(id=rng.randrange(rows),
                                       ra=round(266.4 + rng.uniform(-0.05, 0.05), 6),
                                       dec=round(-28.9 + rng.uniform(-0.05, 0.05), 6))
                answers = []
                for name in (list(tables) if run % 2 else list(tables)[::-1]):
                    wall, cpu = time.perf_counter(), _cpu()
                    table = engines[name].query(adql).to_table()
                    if run:  # the first run of each query warms up
                        walls[name].append(time.perf_counter() - wall)
                        cpus[name].append(_cpu() - cpu)
                    answers.append(_rows(table))
                if any(a != answers[0] for a in answers):
                    raise SystemExit(f"The tables answer {adql!r} differently.")
            out[label] = {n: {"wall_median_ms": round(statistics.median(walls[n]) * 1e3, 2),
                              "cpu_mean_ms": round(statistics.mean(cpus[n]) * 1e3, 2),
                              "runs": len(walls[n])} for n in tables}
            print(label, out[label], flush=True)
    finally:
        for engine in engines.values():
            engine.close()
    out["load_average_at_end"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="append", required=True,
                        help="NAME=DATA_DIR of a table sim.object (two or more, same rows)")
    parser.add_argument("--rows", type=int, required=True, help="rows of the tables (ids)")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--scan-runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=RESULTS / "small_reads.json")
    args = parser.parse_args()
    tables = dict(t.split("=", 1) for t in args.table)
    report = {"command": "python -m bench.bench_small_reads " + " ".join(sys.argv[1:]),
              "machine": platform.platform(), "cpus": os.cpu_count(), "tables": tables,
              "results": measure(tables, args.rows, args.runs, args.scan_runs)}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    write_markdown(report, args.out.with_suffix(".md"))


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """One row per query and table."""
    res = report["results"]
    lines = ["# Small reads on two layouts of the same table", "",
             f"`{report['command']}` on {report['cpus']} CPUs ({report['machine']}). Same code, "
             "the tables in turns; wall: median ms; CPU: mean ms of the process (all threads).",
             "", "| query | table | wall median ms | CPU mean ms | runs |",
             "| --- | --- | ---: | ---: | ---: |"]
    for label in QUERIES:
        for name, s in res[label].items():
            lines.append(f"| {label} | {name} | {s['wall_median_ms']} | {s['cpu_mean_ms']} | "
                         f"{s['runs']} |")
    lines += ["", f"Load average (1, 5, 15 min) at start {tuple(res['load_average_at_start'])}, "
                  f"at end {tuple(res['load_average_at_end'])}.", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
