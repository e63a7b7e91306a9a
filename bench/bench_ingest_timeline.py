"""Ingest N synthetic rows with 2 workers; every 2 s, each process's CPU % and disk I/O.

Prints one JSON line a sample to stderr: ``t`` (s), ``load`` (1-min load average),
``procs`` {pid: [CPU %, read MB/s, write MB/s, CPU s so far]} for this process and its
children (the ingest's workers), and the ingest's INFO log (pass 1, pass 2+3 seconds).

    nice -n 19 ionice -c3 .venv/bin/python -m bench.bench_ingest_timeline 100000000 \
        /tmp/C2/d100 2> /tmp/C2/run100.log
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time

import psutil

from engine.ingest.api import ingest_batches
from engine.ingest.synthetic import synthetic_source

SAMPLE_S = 2.0


def sample(stop: threading.Event) -> None:
    """Print a sample of this process tree every :data:`SAMPLE_S` until ``stop``."""
    me = psutil.Process()
    prev: dict[int, tuple[float, int, int, float]] = {}
    t0 = time.monotonic()
    while not stop.is_set():
        row: dict[str, object] = {"t": round(time.monotonic() - t0, 1),
                                  "load": os.getloadavg()[0]}
        procs: dict[int, list[float]] = {}
        for p in [me, *me.children(recursive=True)]:
            try:
                ct, io = p.cpu_times(), p.io_counters()
            except psutil.Error:
                continue
            cur = (ct.user + ct.system, io.read_bytes, io.write_bytes, time.monotonic())
            if p.pid in prev:
                a = prev[p.pid]
                dt = cur[3] - a[3]
                procs[p.pid] = [round(100 * (cur[0] - a[0]) / dt),
                                round((cur[1] - a[1]) / dt / 1e6, 1),
                                round((cur[2] - a[2]) / dt / 1e6, 1), round(cur[0], 1)]
            prev[p.pid] = cur
        row["procs"] = procs
        print(json.dumps(row), file=sys.stderr, flush=True)
        stop.wait(SAMPLE_S)


def main() -> None:
    """Run the ingest of ``argv[1]`` rows into ``argv[2]`` under the sampler."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    rows, out = int(sys.argv[1]), sys.argv[2]
    stop = threading.Event()
    thread = threading.Thread(target=sample, args=(stop,), daemon=True)
    thread.start()
    t = time.monotonic()
    ingest_batches(out, "sim.obj", synthetic_source(rows, seed=42), ra="ra", dec="dec",
                   id_column="id", workers=2, progress=False)
    print("total", time.monotonic() - t, file=sys.stderr)
    stop.set()
    thread.join()


if __name__ == "__main__":
    main()
