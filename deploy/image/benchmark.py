"""Benchmark step of the ingest workflow: time a cone search and an id lookup on a table.

Shipped in the image as ``qserv-access-benchmark``. It picks rows of the table, then runs a
1-arcminute cone around each row's position and a lookup of its id, ``--repeats`` times,
through the embedded engine on the data directory and, with ``--tap-url``, through the TAP
service (replicas and dask cluster as deployed). It prints one line per measurement and
writes them as JSON (``--output``), the workflow's output parameter.

    qserv-access-benchmark --data-dir /qserv/data --table dp1.object --ra ra --dec dec \
        --id objectId --tap-url http://qserv-access-tap/tap --output /tmp/benchmark.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import qserv_access
from qserv_access.errors import QservAccessError

CONE_ARCMIN = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qserv-access-benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="data directory")
    parser.add_argument("--table", required=True, help="SCHEMA.TABLE")
    parser.add_argument("--ra", required=True, help="right ascension column")
    parser.add_argument("--dec", required=True, help="declination column")
    parser.add_argument("--id", required=True, dest="id_column", help="id column")
    parser.add_argument("--tap-url", help="also time these queries through this TAP service")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each query (default 5)")
    parser.add_argument("--rows", type=int, default=3, help="rows to query around (default 3)")
    parser.add_argument("--output", help="write the measurements here as JSON")
    return parser.parse_args(argv)


def sample_rows(catalog: Any, args: argparse.Namespace) -> list[tuple[float, float, Any]]:
    """A few rows of the table (position and id) to centre the queries on."""
    table = catalog.query(f"SELECT TOP {args.rows} {args.ra}, {args.dec}, {args.id_column} "
                          f"FROM {args.table}")
    rows = [(float(r[args.ra]), float(r[args.dec]), r[args.id_column]) for r in table]
    if not rows:
        raise SystemExit(f"qserv-access-benchmark: error: {args.table} has no rows to query")
    return rows


def queries(args: argparse.Namespace, rows: list[tuple[float, float, Any]]) -> dict[str, list[str]]:
    """ADQL of each measured query kind, one per sampled row."""
    radius = CONE_ARCMIN / 60.0
    return {
        "cone_1arcmin": [
            f"SELECT {args.id_column} FROM {args.table} WHERE 1 = CONTAINS("
            f"POINT('ICRS', {args.ra}, {args.dec}), CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r}))"
            for ra, dec, _ in rows],
        "id_lookup": [f"SELECT * FROM {args.table} WHERE {args.id_column} = {_literal(ident)}"
                      for _, _, ident in rows],
    }


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def measure(run: Callable[[str], Any], adql: list[str], repeats: int) -> dict[str, Any]:
    """Seconds of each run: the first (cold) apart, then the median and worst of the rest."""
    seconds, found = [], 0
    for _ in range(max(repeats, 2)):
        for text in adql:
            start = time.perf_counter()
            found = len(run(text))
            seconds.append(time.perf_counter() - start)
    warm = seconds[len(adql):]
    return {"first_s": round(seconds[0], 4), "median_s": round(statistics.median(warm), 4),
            "max_s": round(max(warm), 4), "runs": len(seconds), "rows_last": found}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except QservAccessError as exc:
        raise SystemExit(f"qserv-access-benchmark: error: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    local = qserv_access.connect(args.data_dir)
    rows = sample_rows(local, args)
    targets = {"embedded": local}
    if args.tap_url:
        targets["tap"] = qserv_access.connect(args.tap_url)
    results = []
    for target, catalog in targets.items():
        for kind, adql in queries(args, rows).items():
            result = {"table": args.table, "path": target, "query": kind,
                      **measure(catalog.query, adql, args.repeats)}
            results.append(result)
            sys.stdout.write(f"{target:9} {kind:13} first {result['first_s']:.4f} s, "
                             f"median {result['median_s']:.4f} s, max {result['max_s']:.4f} s "
                             f"over {result['runs']} runs\n")
    if args.output:
        with open(args.output, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
