"""Planning time against the number of partitions: small queries must not pay for big tables.

Run ``python -m bench.bench_plan [--partitions 1000 10000 100000] [--runs 30]``. At a
billion rows a table has 10^4 to 10^5 partitions. This builds a synthetic manifest with
that many adaptive HEALPix partitions (full sky at one order, some pixels split one order
deeper; no file is written: only planning runs) and times ``Planner.plan`` for a 1' cone,
a 1 deg cone, an id lookup, ``COUNT(*)`` and a full-scan aggregate (whose SQL names
every file). The id index is not read here: the lookup
returns the ``_healpix_29`` of the id's row from memory, as the index would (its own time
is in the query benchmark). Results go to ``bench/results/plan.json`` and ``plan.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from engine.catalog import ColumnInfo, Partition, PublishedTable, TableKind, TableManifest
from engine.plan import PlanOptions
from engine.planning import Planner

RESULTS = Path(__file__).resolve().parent / "results"
CONE = (280.0, -30.0)
ID_VALUE = 123_456_789
ID_HEALPIX_29 = 0x0ABC_DEF0_1234_5678

QUERIES = {
    "cone 1arcmin": f"SELECT id, ra, dec FROM bench.synth WHERE 1 = CONTAINS(POINT(ra, dec), "
                    f"CIRCLE({CONE[0]}, {CONE[1]}, {1 / 60!r}))",
    "cone 1deg": f"SELECT id, ra, dec FROM bench.synth WHERE 1 = CONTAINS(POINT(ra, dec), "
                 f"CIRCLE({CONE[0]}, {CONE[1]}, 1.0))",
    "id lookup": f"SELECT * FROM bench.synth WHERE id = {ID_VALUE}",
    "COUNT(*)": "SELECT COUNT(*) AS n FROM bench.synth",
    "full scan GROUP BY flags": "SELECT flags, COUNT(*) AS n, AVG(mag_g) AS m FROM bench.synth "
                                "GROUP BY flags",
}


def synthetic_partitions(count: int) -> tuple[Partition, ...]:
    """About ``count`` disjoint partitions covering the sky: one order, some split deeper."""
    order = 0
    while 12 * 4 ** (order + 1) <= count:
        order += 1
    base = 12 * 4 ** order
    splits = min(base, max(0, (count - base) // 3))
    parts = []
    for ipix in range(base):
        if ipix < splits:
            parts += [Partition(order + 1, 4 * ipix + k, 10_000, f"p/{order + 1}/{4 * ipix + k}")
                      for k in range(4)]
        else:
            parts.append(Partition(order, ipix, 10_000, f"p/{order}/{ipix}"))
    return tuple(parts)


def synthetic_table(count: int) -> PublishedTable:
    partitions = synthetic_partitions(count)
    columns = tuple(ColumnInfo(name, kind) for name, kind in (
        ("id", "int64"), ("ra", "double"), ("dec", "double"), ("mag_g", "float"),
        ("flags", "int16")))
    manifest = TableManifest(
        name="bench.synth", kind=TableKind.POSITIONAL, columns=columns,
        nrows=sum(p.nrows for p in partitions), ra_column="ra", dec_column="dec",
        id_column="id", partitions=partitions, id_index="id_index.parquet")
    return PublishedTable(manifest=manifest, root=Path("/nonexistent/bench.synth"))


def lookup(_table: PublishedTable, ids: list[int | str]) -> list[int] | None:
    return [ID_HEALPIX_29] if ID_VALUE in ids else []


def measure(count: int, runs: int) -> dict[str, Any]:
    table = synthetic_table(count)
    planner = Planner({"bench.synth": table}, {}, lookup, PlanOptions(rows_per_task=25_000_000))
    out: dict[str, Any] = {"partitions": len(table.manifest.partitions), "queries": {}}
    for name, adql in QUERIES.items():
        first = time.perf_counter()
        plan = planner.plan(adql)
        first_ms = (time.perf_counter() - first) * 1000
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            planner.plan(adql)
            times.append((time.perf_counter() - t) * 1000)
        out["queries"][name] = {
            "median_ms": round(statistics.median(times), 3), "first_ms": round(first_ms, 3),
            "chunks": sum(len(t.chunks) for t in plan.tasks), "mode": plan.mode}
        print(count, name, out["queries"][name], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument("--out", type=Path, default=RESULTS / "plan.json")
    args = parser.parse_args()
    results = {
        "command": " ".join(["python -m bench.bench_plan", *sys.argv[1:]]),
        "label": args.label, "cpus": os.cpu_count(), "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "sizes": [measure(n, args.runs) for n in args.partitions],
    }
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    write_markdown(results, args.out.with_suffix(".md"))


def write_markdown(results: dict[str, Any], path: Path) -> None:
    names = list(QUERIES)
    lines = ["# Planning time against partition count", "",
             f"`{results['command']}` on {results['cpus']} CPUs ({results['machine']})"
             + (f"; {results['label']}" if results["label"] else "") + ". Median ms of "
             "`Planner.plan` (parse, analyse, choose chunks, write SQL) after a first call "
             "(which builds the table's partition index); synthetic manifests, no file read.",
             "", "| partitions | " + " | ".join(f"{n} ms" for n in names)
             + " | first call ms (1' cone) |",
             "| ---: | " + " | ".join("---:" for _ in names) + " | ---: |"]
    for size in results["sizes"]:
        q = size["queries"]
        lines.append(f"| {size['partitions']:,} | "
                     + " | ".join(f"{q[n]['median_ms']:.2f}" for n in names)
                     + f" | {q['cone 1arcmin']['first_ms']:.1f} |")
    lines += ["", f"Load average at start {results['load_average_at_start']}, at end "
              f"{results['load_average_at_end']} (the machine is shared).", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
