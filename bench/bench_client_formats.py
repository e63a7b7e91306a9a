"""A large synchronous result through ``qserv_access.connect(url).query``: VOParquet vs VOTable.

    python -m bench.bench_client_formats [--rows 1000000] [--runs 3]

Ingests a seeded synthetic catalog (``qserv_access.synthetic_source``: id, ra, dec, six
magnitudes, flags) into bench/work/formats, starts one real ``qserv-access serve`` on
127.0.0.1, and times the same ``SELECT *`` of every row, end to end into an astropy Table
with units, with ``response_format="parquet"`` and ``"votable"`` (BINARY2, what pyvo asks
for by default). Also records the bytes each format puts on the wire (raw HTTP).
Writes bench/results/client_formats.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import httpx

import qserv_access
from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server

HERE = Path(__file__).resolve().parent
TABLE = "sim.obj"


def _build(data_dir: Path, rows: int) -> None:
    if (data_dir / "tables" / TABLE / "CURRENT").is_file():
        return
    qserv_access.ingest(data_dir, TABLE, qserv_access.synthetic_source(rows, seed=7),
                        ra="ra", dec="dec", id_column="id")


def _wire_bytes(url: str, query: str, fmt: str, rows: int) -> int:
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, "MAXREC": str(rows),
            "RESPONSEFORMAT": fmt}
    size = 0
    with httpx.stream("POST", url + "/sync", data=data, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            size += len(chunk)
    return size


def main() -> None:
    """Run the benchmark and write its results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = HERE / "work" / "formats"
    data_dir = work / f"data-{args.rows}"
    _build(data_dir, args.rows)
    query = f"SELECT * FROM {TABLE}"
    results: dict[str, dict[str, object]] = {}
    with running_tap_server(data_dir, work / "server", free_port()) as url:
        for fmt in ("parquet", "votable"):
            cat = qserv_access.connect(url, response_format=fmt)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a cut result would not be comparable
                    table = cat.query(query, maxrec=args.rows)
                times.append(time.perf_counter() - start)
                assert len(table) == args.rows and table["ra"].unit == "deg", fmt
            results[fmt] = {
                "median_s": round(statistics.median(times), 2),
                "min_s": round(min(times), 2), "runs": len(times),
                "columns": len(table.colnames),
                "wire_mb": round(_wire_bytes(url, query, fmt, args.rows) / 1e6, 1)}
            print(fmt, results[fmt], flush=True)
    speedup = round(float(results["votable"]["median_s"])  # type: ignore[arg-type]
                    / float(results["parquet"]["median_s"]), 1)  # type: ignore[arg-type]
    out = {"rows": args.rows, "query": query, "results": results,
           "parquet_speedup": speedup, "machine": platform.platform(),
           "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1),
           "date": time.strftime("%Y-%m-%d")}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "client_formats.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"# {args.rows:,} rows through `connect(url).query`: VOParquet vs VOTable", "",
             f"`{query}` ({results['parquet']['columns']} columns), a real `qserv-access "
             f"serve` on 127.0.0.1, end to end into an astropy Table with units; median "
             f"of {args.runs} runs, {out['date']}, {out['cpus']} CPUs (load average "
             f"{out['load_average']} at the end: a shared machine), {out['machine']}.",
             "", "| format | median (s) | min (s) | on the wire (MB) |",
             "| --- | ---: | ---: | ---: |"]
    for fmt, r in results.items():
        label = "VOParquet" if fmt == "parquet" else "VOTable BINARY2"
        lines.append(f"| {label} | {r['median_s']} | {r['min_s']} | {r['wire_mb']} |")
    lines += ["", f"VOParquet is {speedup}x faster. Reproduce: "
              "`.venv/bin/python -m bench.bench_client_formats --rows "
              f"{args.rows} --runs {args.runs}`.", ""]
    (HERE / "results" / "client_formats.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
