"""Small-query latency as the table grows: 1' and 1 deg cones and an id lookup, through the client.

Each figure is the query path a notebook user meets: ``qserv_access.connect(DIR).query(adql)``
(plan, execute, merge, Arrow to astropy), warm (median of ``--runs`` after one warm-up run)
and cold (the first run after the page cache is dropped, root only). Beside the total, the
worker times the phases on their own: planning (``Engine.plan``), the engine's run to an
Arrow table, and the conversion to astropy.

With ``--baseline-src DIR`` (a copy of an earlier commit's packages, e.g.
``git archive HEAD engine qserv_access tap_service | tar -x -C DIR``) the same worker runs
that code too, in turns with this checkout's (baseline, ours, ours, baseline, ...), each in
its own process over the same tables, so both see the same machine load::

    python -m bench.bench_latency --table 20000000=/tmp/lat/m20 --table 100000000=/tmp/lat/e8 \\
        --baseline-src /tmp/lat/src --runs 25 --turns 2 --cold

Results go to ``bench/results/latency.json`` and ``latency.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.bench_billion import drop_page_cache

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
CONE = ("SELECT id, ra, dec, mag_r FROM sim.object WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', 266.4, -28.9, {r}))")
QUERIES = {"cone 1\u2032": CONE.format(r=1 / 60), "cone 1\u00b0": CONE.format(r=1.0),
           "id lookup": "SELECT * FROM sim.object WHERE id = {id}"}
"""The queries of ``bench_billion`` (same centre): the id lookup takes a random id each run."""
GOALS_MS = {"cone 1\u2032": 10.0, "cone 1\u00b0": 50.0, "id lookup": 20.0}


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


def measure(data_dir: str, rows: int, runs: int, cold: bool) -> dict[str, Any]:
    """One process's figures over one table (run with the code under test on sys.path)."""
    import qserv_access
    from qserv_access.arrow import arrow_to_astropy

    rng = random.Random(7)
    catalog = qserv_access.connect(data_dir)
    engine = catalog.engine  # type: ignore[attr-defined]
    out: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    for label, template in QUERIES.items():
        def text(template: str = template) -> str:
            return template.format(id=rng.randrange(rows))

        entry: dict[str, Any] = {}
        if cold and drop_page_cache():
            started = time.perf_counter()
            catalog.query(text())
            entry["cold_ms"] = _ms(time.perf_counter() - started)
        catalog.query(text())  # warm-up
        total, plan, run, convert = [], [], [], []
        for _ in range(runs):
            query = text()
            started = time.perf_counter()
            answer = catalog.query(query)
            total.append(time.perf_counter() - started)
            started = time.perf_counter()
            engine.plan(query)
            plan.append(time.perf_counter() - started)
            started = time.perf_counter()
            table = engine.query(query).to_table()
            run.append(time.perf_counter() - started)
            started = time.perf_counter()
            arrow_to_astropy(table)
            convert.append(time.perf_counter() - started)
        entry.update(rows=len(answer), warm_ms=[_ms(t) for t in total],
                     warm_median_ms=_ms(statistics.median(total)),
                     plan_median_ms=_ms(statistics.median(plan)),
                     engine_median_ms=_ms(statistics.median(run)),
                     convert_median_ms=_ms(statistics.median(convert)))
        out[label] = entry
    catalog.close()
    out["load_average_at_end"] = os.getloadavg()
    return out


def _worker(src: Path, data_dir: str, rows: int, runs: int, cold: bool) -> dict[str, Any]:
    """Run :func:`measure` in a fresh process importing the packages under ``src``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_latency", "--worker", data_dir, str(rows),
         "--runs", str(runs), *(["--cold"] if cold else [])],
        cwd=src, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pooled(results: list[dict[str, Any]], label: str) -> dict[str, Any]:
    warm = [t for r in results for t in r[label]["warm_ms"]]
    colds = [r[label]["cold_ms"] for r in results if "cold_ms" in r[label]]
    out = {"rows": results[-1][label]["rows"], "warm_median_ms": round(statistics.median(warm), 2),
           "warm_p10_ms": round(sorted(warm)[len(warm) // 10], 2),
           "cold_ms": round(statistics.median(colds), 2) if colds else None}
    for phase in ("plan", "engine", "convert"):
        out[f"{phase}_median_ms"] = round(statistics.median(
            r[label][f"{phase}_median_ms"] for r in results), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="append", default=[],
                        help="ROWS=DATA_DIR of a table sim.object (repeat for each size)")
    parser.add_argument("--baseline-src", type=Path, help="packages of the code to compare")
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--cold", action="store_true", help="drop the page cache (root)")
    parser.add_argument("--worker", nargs=2, metavar=("DATA_DIR", "ROWS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "latency.json")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker[0], int(args.worker[1]), args.runs, args.cold)))
        return
    variants = {"ours": ROOT}
    if args.baseline_src:
        variants = {"baseline": args.baseline_src.resolve(), "ours": ROOT}
    tables = [(int(float(size)), path) for size, path in (t.split("=", 1) for t in args.table)]
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for turn in range(args.turns):
        order = list(variants) if turn % 2 == 0 else list(reversed(variants))
        for rows, path in tables:
            for name in order:
                result = _worker(variants[name], path, rows, args.runs, args.cold)
                raw.setdefault(str(rows), {}).setdefault(name, []).append(result)
                print(rows, name, {k: v.get("warm_median_ms") for k, v in result.items()
                                   if isinstance(v, dict)}, flush=True)
    summary = {rows: {name: {label: _pooled(results, label) for label in QUERIES}
                      for name, results in by_name.items()} for rows, by_name in raw.items()}
    report = {"command": "python -m bench.bench_latency " + " ".join(sys.argv[1:]),
              "machine": platform.platform(), "cpus": os.cpu_count(), "runs": args.runs,
              "turns": args.turns, "summary": summary, "raw": raw}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    write_markdown(report, args.out.with_suffix(".md"))


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """The summary as tables: each size, each variant; growth against the smallest size."""
    lines = ["# Small-query latency as the table grows", "",
             f"`{report['command']}` on {report['cpus']} CPUs ({report['machine']}). "
             "Client path (`qserv_access.connect(DIR).query`), warm median of every run of "
             "every turn; cold: the first run after dropping the page cache (median over "
             "turns). Phases are the medians of each turn's own medians.", ""]
    sizes = sorted(report["summary"], key=int)
    for rows in sizes:
        lines += [f"## {int(rows):,} rows", "",
                  "| code | query | rows | warm median ms | warm p10 ms | cold ms | plan ms | "
                  "engine ms | convert ms | goal |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for name, by_label in report["summary"][rows].items():
            for label, s in by_label.items():
                goal = f"<= {GOALS_MS[label]:g} ms: " + (
                    "**yes**" if s["warm_median_ms"] <= GOALS_MS[label] else "no")
                lines.append(f"| {name} | {label} | {s['rows']} | {s['warm_median_ms']} | "
                             f"{s['warm_p10_ms']} | {s['cold_ms']} | {s['plan_median_ms']} | "
                             f"{s['engine_median_ms']} | {s['convert_median_ms']} | {goal} |")
        loads = [r["load_average_at_start"] for by in report["raw"][rows].values() for r in by]
        lines += ["", "Load average (1, 5, 15 min) at the start of each worker: "
                  + "; ".join(", ".join(f"{x:.2f}" for x in load) for load in loads), ""]
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        lines += [f"## Growth from {int(small):,} to {int(big):,} rows (warm median ratio)", "",
                  "| code | query | ratio | within 1.3x? |", "| --- | --- | ---: | --- |"]
        for name in report["summary"][big]:
            for label in QUERIES:
                ratio = (report["summary"][big][name][label]["warm_median_ms"]
                         / report["summary"][small][name][label]["warm_median_ms"])
                lines.append(f"| {name} | {label} | {ratio:.2f}x | "
                             f"{'**yes**' if ratio <= 1.3 else 'no'} |")
        lines.append("")
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
