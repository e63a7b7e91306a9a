"""CPU per query of bench_tap's four queries through the TAP query path, in this process.

    python bench/bench_tap_cpu.py TREE DATA_DIR [RUNS]

Imports ``engine`` and ``tap_service`` from the source tree ``TREE`` (a checkout, or a
``git archive`` of an older commit, to compare code in turns on one machine), opens
``DATA_DIR`` (bench_tap's catalog, table ``bench.objects``) and runs each query ``RUNS``
times (default 40) through ``tap_service.query.start_query`` (plan, chunk SQL on DuckDB,
BINARY2 VOTable), no HTTP. Prints the process CPU and wall time per query and the
SHA-1 of the body, which must be the same for every tree. CPU time is less sensitive than
wall time to other work on a shared machine.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run the queries and print one line per query."""
    tree, data_dir = argv[0], Path(argv[1])
    runs = int(argv[2]) if len(argv) > 2 else 40
    sys.path.insert(0, tree)
    from bench.bench_tap import _queries
    from engine.api import Engine, EngineOptions
    from tap_service.params import QueryRequest
    from tap_service.query import start_query

    engine = Engine.open(data_dir, EngineOptions(workers=2))

    def body(adql: str) -> bytes | None:
        request = QueryRequest(query=adql, maxrec=100_000, response_format=None, upload=None)
        return start_query(engine, request, {}, timeout_s=600, cancel=None, prefetch=True).body

    for name, adql in _queries("bench.objects", "ra", "dec", 150.0, 2.0).items():
        first = body(adql)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(runs):
            if body(adql) != first:
                raise SystemExit(f"{name}: a body other than the first")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        sha = hashlib.sha1(first or b"").hexdigest()[:10]
        print(f"{name}: cpu {cpu * 1000 / runs:.2f} ms/query, wall {wall * 1000 / runs:.2f} "
              f"ms/query, body sha1 {sha}", flush=True)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
