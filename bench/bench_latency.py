"""Small-query latency as the table grows: 1' and 1 deg cones and an id lookup, through the client.

Each figure is the query path a notebook user meets: ``qserv_access.connect(DIR).query(adql)``
(plan, execute, merge, Arrow to astropy), warm (median of ``--runs`` after one warm-up run)
and cold (the first run after the page cache is dropped, root only). Beside the total, the
worker times the phases on their own: planning (``Engine.plan``), the engine's run to an
Arrow table, and the conversion to astropy.

With ``--baseline-src DIR`` (a copy of an earlier commit's packages, e.g.
``git archive HEAD engine qserv_access tap_service | tar -x -C DIR``) a second worker process
runs that code over the same table, and the two run each query in turns (one run each, who
goes first alternating), so load changes on a shared machine hit both alike::

    python -m bench.bench_latency --table 20000000=/tmp/lat/m20 --table 100000000=/tmp/lat/e8 \\
        --baseline-src /tmp/lat/src --runs 40 --cold

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
        "CIRCLE('ICRS', {{ra}}, {{dec}}, {r}))")
QUERIES = {"cone 1\u2032": CONE.format(r=1 / 60), "cone 1\u00b0": CONE.format(r=1.0),
           "id lookup": "SELECT * FROM sim.object WHERE id = {id}"}
"""The queries of ``bench_billion``: each run takes a random id, and a cone centre drawn within
0.05 deg of ``bench_billion``'s (266.4, -28.9), so no cache of whole query texts can answer."""


def _query(template: str, rng: random.Random, rows: int) -> str:
    """``template`` with this run's id and cone centre."""
    return template.format(id=rng.randrange(rows), ra=round(266.4 + rng.uniform(-0.05, 0.05), 6),
                           dec=round(-28.9 + rng.uniform(-0.05, 0.05), 6))
GOALS_MS = {"cone 1\u2032": 10.0, "cone 1\u00b0": 50.0, "id lookup": 20.0}


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


def serve(data_dir: str) -> None:
    """A worker: run each query read from stdin (one JSON line) and answer its timings."""
    import qserv_access
    from qserv_access.arrow import arrow_to_astropy

    catalog = qserv_access.connect(data_dir)
    engine = catalog.engine  # type: ignore[attr-defined]
    print("ready", flush=True)
    for line in sys.stdin:
        query = json.loads(line)["adql"]
        started = time.perf_counter()
        answer = catalog.query(query)
        timings = {"total": time.perf_counter() - started}
        started = time.perf_counter()
        engine.plan(query)
        timings["plan"] = time.perf_counter() - started
        started = time.perf_counter()
        table = engine.query(query).to_table()
        timings["engine"] = time.perf_counter() - started
        started = time.perf_counter()
        arrow_to_astropy(table)
        timings["convert"] = time.perf_counter() - started
        print(json.dumps({"rows": len(answer), **{k: _ms(v) for k, v in timings.items()}}),
              flush=True)
    catalog.close()


class _Worker:
    """One worker process importing the packages under ``src``, over one table."""

    def __init__(self, src: Path, data_dir: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_latency", "--serve", data_dir], cwd=src, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        if self.stdout.readline().strip() != "ready":
            raise RuntimeError(f"worker over {data_dir} ({src}) did not start")

    def run(self, adql: str) -> dict[str, Any]:
        self.stdin.write(json.dumps({"adql": adql}) + "\n")
        self.stdin.flush()
        return dict(json.loads(self.stdout.readline()))

    def close(self) -> None:
        self.stdin.close()
        self.process.wait(timeout=60)


def measure(variants: dict[str, Path], data_dir: str, rows: int, runs: int,
            cold: bool) -> dict[str, Any]:
    """Every query on every variant's worker in turns: the same text, one run each at a time
    (who goes first alternates), so load changes on a shared machine hit all alike."""
    rng = random.Random(7)
    workers = {name: _Worker(src, data_dir) for name, src in variants.items()}
    out: dict[str, Any] = {"load_average_at_start": os.getloadavg(),
                           **{name: {} for name in workers}}
    try:
        for label, template in QUERIES.items():
            runs_of: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
            colds: dict[str, float] = {}
            for name, worker in workers.items():
                if cold and drop_page_cache():
                    colds[name] = worker.run(_query(template, rng, rows))["total"]
                worker.run(_query(template, rng, rows))  # warm-up
            for i in range(runs):
                adql = _query(template, rng, rows)
                order = list(workers) if i % 2 == 0 else list(reversed(workers))
                for name in order:
                    runs_of[name].append(workers[name].run(adql))
            for name, timed in runs_of.items():
                entry: dict[str, Any] = {"rows": timed[-1]["rows"],
                                         "warm_ms": [t["total"] for t in timed]}
                for key in ("total", "plan", "engine", "convert"):
                    entry[f"{key}_median_ms"] = round(
                        statistics.median(t[key] for t in timed), 2)
                entry["warm_median_ms"] = entry.pop("total_median_ms")
                entry["warm_p10_ms"] = sorted(entry["warm_ms"])[len(timed) // 10]
                entry["cold_ms"] = colds.get(name)
                out[name][label] = entry
    finally:
        for worker in workers.values():
            worker.close()
    out["load_average_at_end"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="append", default=[],
                        help="ROWS=DATA_DIR of a table sim.object (repeat for each size)")
    parser.add_argument("--baseline-src", type=Path, help="packages of the code to compare")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--cold", action="store_true", help="drop the page cache (root)")
    parser.add_argument("--serve", metavar="DATA_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "latency.json")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    variants = {"ours": ROOT}
    if args.baseline_src:
        variants = {"baseline": args.baseline_src.resolve(), "ours": ROOT}
    results = {}
    for size, path in (t.split("=", 1) for t in args.table):
        rows = int(float(size))
        results[str(rows)] = measure(variants, path, rows, args.runs, args.cold)
        print(rows, {name: {label: entry["warm_median_ms"] for label, entry in
                            results[str(rows)][name].items()} for name in variants}, flush=True)
    report = {"command": "python -m bench.bench_latency " + " ".join(sys.argv[1:]),
              "machine": platform.platform(), "cpus": os.cpu_count(), "runs": args.runs,
              "variants": list(variants), "results": results}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    write_markdown(report, args.out.with_suffix(".md"))


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """Each size's table (every variant), then growth against the smallest size."""
    lines = ["# Small-query latency as the table grows", "",
             f"`{report['command']}` on {report['cpus']} CPUs ({report['machine']}). "
             "Client path (`qserv_access.connect(DIR).query`): median and 10th percentile of "
             f"{report['runs']} warm runs, each variant's worker running the same query in "
             "turns; cold: the first run after dropping the page cache. Plan, engine (plan + "
             "run to Arrow) and convert (Arrow to astropy) are each timed on their own "
             "(medians).", ""]
    results = report["results"]
    sizes = sorted(results, key=int)
    for rows in sizes:
        lines += [f"## {int(rows):,} rows", "",
                  "| code | query | rows | warm median ms | warm p10 ms | cold ms | plan ms | "
                  "engine ms | convert ms | goal |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for name in report["variants"]:
            for label, s in results[rows][name].items():
                goal = f"<= {GOALS_MS[label]:g} ms: " + (
                    "**yes**" if s["warm_median_ms"] <= GOALS_MS[label] else "no")
                lines.append(f"| {name} | {label} | {s['rows']} | {s['warm_median_ms']} | "
                             f"{s['warm_p10_ms']} | {s['cold_ms']} | {s['plan_median_ms']} | "
                             f"{s['engine_median_ms']} | {s['convert_median_ms']} | {goal} |")
        start, end = results[rows]["load_average_at_start"], results[rows]["load_average_at_end"]
        lines += ["", f"Load average (1, 5, 15 min) at start {start}, at end {end}.", ""]
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        lines += [f"## Growth from {int(small):,} to {int(big):,} rows (warm median ratio)", "",
                  "| code | query | ratio | within 1.3x? |", "| --- | --- | ---: | --- |"]
        for name in report["variants"]:
            for label in QUERIES:
                ratio = (results[big][name][label]["warm_median_ms"]
                         / results[small][name][label]["warm_median_ms"])
                lines.append(f"| {name} | {label} | {ratio:.2f}x | "
                             f"{'**yes**' if ratio <= 1.3 else 'no'} |")
        lines.append("")
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
