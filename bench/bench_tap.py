"""TAP service benchmark: latency of typical queries over HTTP on loopback, and a load test.

    python -m bench.bench_tap [--data-dir DIR --table T | --synthetic --rows N]
                              [--work DIR] [--workers N] [--runs 30] [--load-seconds 120]

Starts a real ``qserv-access serve --workers N`` (uvicorn) on 127.0.0.1, then measures sync
cone searches of 0.05 and 1 degree, COUNT(*) and TOP 1000 (median and p95, raw HTTP with
httpx and pyvo), the same queries through ``engine.query`` in-process (the service overhead
is the difference), and 20 concurrent clients for a bounded time. Without ``--data-dir`` a
catalog of ``--rows`` rows is ingested under ``--work`` (default bench/work): with
``--synthetic`` the seeded catalog of bench_ingest (engine/ingest/synthetic.py, seed 42:
the 20M-row table of issue #8 with ``--rows 20000000``), otherwise tests/support/small_sky.py.
Writes bench/results/tap.json and bench/results/tap.md, with the command line at the top.
The load test reports latency per query kind too (the tail is the heavy queries' share).

To compare code in turns on one machine: ``--tree DIR`` serves from another source tree
(``git archive REV | tar -x -C DIR``), ``--load-only`` skips the single-query timings,
``--server-env NAME=VALUE`` sets the server's environment (``QSA_TAP_SYNC_SLOTS=8``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

from tests.support.tap_server import running_tap_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DAChS_MS = {"cone_0.05deg": 87, "cone_1deg": 107, "count": 63, "top1000": 62}
"""DaCHS 2.7 (PostgreSQL/pgsphere) on the same machine, raw HTTP, from issue #4."""


def _queries(table: str, ra: str, dec: str, ra0: float, dec0: float) -> dict[str, str]:
    def cone(r: float) -> str:
        return (f"SELECT * FROM {table} WHERE CONTAINS(POINT('ICRS', {ra}, {dec}), "
                f"CIRCLE('ICRS', {ra0}, {dec0}, {r})) = 1")

    return {"cone_0.05deg": cone(0.05), "cone_1deg": cone(1.0),
            "count": f"SELECT COUNT(*) AS n FROM {table}",
            "top1000": f"SELECT TOP 1000 * FROM {table}"}


def _stats(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"median_ms": round(statistics.median(ms), 2), "p95_ms": round(p95, 2),
            "mean_ms": round(statistics.fmean(ms), 2),
            "min_ms": round(ms[0], 2), "runs": len(ms)}


def _time(fn: object, runs: int) -> list[float]:
    fn()  # type: ignore[operator]  # warm-up
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - start)
    return out


def _build_data(work: Path, rows: int, inputs: list[str], synthetic: bool) -> Path:
    sys.path.insert(0, str(ROOT))
    from engine.ingest.api import ingest_batches, ingest_files
    from tests.support.small_sky import make_small_sky

    name = "input" if inputs else f"synthetic-{rows}" if synthetic else str(rows)
    data_dir = work / f"tap-data-{name}"
    if not (data_dir / "tables" / "bench.objects" / "CURRENT").is_file() and synthetic:
        from bench.bench_ingest import MARGIN_ARCSEC, MAX_ROWS, SEED
        from engine.ingest.synthetic import synthetic_source

        ingest_batches(data_dir, "bench.objects", synthetic_source(rows, seed=SEED),
                       ra="ra", dec="dec", id_column="id", margin_arcsec=MARGIN_ARCSEC,
                       max_rows_per_partition=MAX_ROWS, progress=False)
    elif not (data_dir / "tables" / "bench.objects" / "CURRENT").is_file():
        if not inputs:
            inputs = [str(make_small_sky(work / f"objects-{rows}.parquet", n=rows, seed=1))]
        ingest_files(data_dir, "bench.objects", inputs, ra="ra", dec="dec", id_column="id",
                     progress=False)
    return data_dir


def _load(url: str, queries: dict[str, str], clients: int, seconds: float,
          expected: dict[str, bytes]) -> dict[str, object]:
    """``clients`` threads, each on its own keep-alive connection, send the queries in turn.

    A client is ``http.client`` rather than httpx: the load generator shares the machine's
    cores with the server, and httpx spent 4-5 ms of CPU per request here, http.client
    about a tenth of that. A response is an error unless it is a 200 whose body is, byte
    for byte, the ``expected`` one of its query.
    """
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {name: [] for name in queries}
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    parts = urlsplit(url)
    paths = {q: f"{parts.path}/sync?" + urlencode({"LANG": "ADQL", "QUERY": q})
             for q in queries.values()}
    kinds = list(queries.items())

    def worker(index: int) -> None:
        con = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        i = index
        while time.monotonic() < stop_at:
            kind, query = kinds[i % len(kinds)]
            i += 1
            start = time.perf_counter()
            try:
                con.request("GET", paths[query])
                response = con.getresponse()
                body = response.read()
                error = (None if response.status == 200 and body == expected[query] else
                         f"HTTP {response.status}" if response.status != 200 else
                         "a body other than the expected one")
            except (OSError, http.client.HTTPException) as exc:
                con.close()
                error = repr(exc)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                by_kind[kind].append(elapsed)
                if error is not None:
                    errors.append(error)
        con.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"clients": clients, "seconds": seconds, "requests": len(latencies),
            "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
            "throughput_rps": round(len(latencies) / seconds, 1), **_stats(latencies),
            "by_kind": {name: _stats(samples) for name, samples in by_kind.items() if samples}}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the results."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--table", default="bench.objects")
    p.add_argument("--ra", default="ra")
    p.add_argument("--dec", default="dec")
    p.add_argument("--center", default="150.0,2.0", help="cone centre 'ra,dec' in degrees")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic catalog")
    p.add_argument("--input", nargs="*", default=[],
                   help="Parquet files (id, ra, dec, ...) to ingest as bench.objects instead")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--load-seconds", type=float, default=120.0)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--synthetic", action="store_true",
                   help="ingest bench_ingest's seeded synthetic catalog (--rows rows)")
    p.add_argument("--work", type=Path, default=ROOT / "bench" / "work",
                   help="where the catalog is built and the server keeps its files")
    p.add_argument("--workers", type=int, default=1,
                   help="service processes (qserv-access serve --workers N)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results",
                   help="where tap.json and tap.md are written")
    p.add_argument("--tree", type=Path, default=ROOT,
                   help="source tree the server runs from (default: this one)")
    p.add_argument("--load-only", action="store_true",
                   help="skip the single-query timings (in-process, raw HTTP, pyvo)")
    p.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment variable of the server (repeatable)")
    args = p.parse_args(argv)
    command = " ".join(["python -m bench.bench_tap", *(argv if argv is not None else sys.argv[1:])])
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    data_dir = args.data_dir or _build_data(work, args.rows, args.input, args.synthetic)
    ra0, dec0 = (float(v) for v in args.center.split(","))
    queries = _queries(args.table, args.ra, args.dec, ra0, dec0)
    url = f"http://127.0.0.1:{args.port}/tap"

    import pyvo

    from engine.api import Engine

    results: dict[str, object] = {"command": command, "workers": args.workers,
                                  "machine": platform.platform(), "cpus": os.cpu_count(),
                                  "data_dir": str(data_dir), "table": args.table,
                                  "queries": queries, "dachs_raw_http_ms": DAChS_MS}
    server_env = dict(item.split("=", 1) for item in args.server_env)
    results.update({"tree": str(args.tree.resolve()), "server_env": server_env})
    in_process: dict[str, dict[str, float]] = {}
    if not args.load_only:
        engine = Engine.open(data_dir)
        for name, query in queries.items():
            in_process[name] = _stats(_time(lambda q=query: engine.query(q).to_table(),
                                            args.runs))
            in_process[name]["rows"] = engine.query(query).to_table().num_rows
        engine.close()
    with running_tap_server(data_dir, work / "tap-work", args.port, start_timeout_s=120,
                            args=["--workers", str(args.workers)], env=server_env,
                            root=args.tree):
        raw, via_pyvo, bodies = {}, {}, {}
        tap = pyvo.dal.TAPService(url)
        with httpx.Client(timeout=60) as client:
            for name, query in queries.items():
                first = client.get(url + "/sync", params={"LANG": "ADQL", "QUERY": query})
                first.raise_for_status()
                bodies[query] = first.content
                if args.load_only:
                    continue

                def get(q: str = query) -> None:
                    r = client.get(url + "/sync", params={"LANG": "ADQL", "QUERY": q})
                    r.raise_for_status()
                raw[name] = _stats(_time(get, args.runs))
                via_pyvo[name] = _stats(_time(lambda q=query: tap.run_sync(q), args.runs))
        load_before, server_before, client_before = _loadavg(), _server_cpu_s(args.port), \
            _own_cpu_s()
        load = _load(url, queries, args.clients, args.load_seconds, bodies)
        n = max(1, int(load["requests"]))  # type: ignore[call-overload]
        load["server_cpu_ms_per_request"] = round(
            (_server_cpu_s(args.port) - server_before) * 1000 / n, 2)
        load["client_cpu_ms_per_request"] = round((_own_cpu_s() - client_before) * 1000 / n, 2)
        load["loadavg_before"], load["loadavg_after"] = load_before, _loadavg()
    results.update({"in_process": in_process, "raw_http": raw, "pyvo": via_pyvo,
                    "overhead_ms": {k: round(raw[k]["median_ms"] - in_process[k]["median_ms"], 2)
                                    for k in raw},
                    "load": load,
                    "body_sha1": {name: hashlib.sha1(bodies[q]).hexdigest()
                                  for name, q in queries.items()}})
    out = args.results
    out.mkdir(parents=True, exist_ok=True)
    (out / "tap.json").write_text(json.dumps(results, indent=1))
    (out / "tap.md").write_text(_markdown(results))
    sys.stdout.write(_markdown(results))
    return 0


def _server_cpu_s(port: int) -> float:
    """CPU seconds used so far by the server on ``port`` and its worker processes."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "qserv_access.cli_serve" in cmd and str(port) in cmd:
            for p in (proc, *proc.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    times = p.cpu_times()
                    total += times.user + times.system
    return total


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loadavg() -> str:
    """The 1, 5 and 15 minute load averages (other work on a shared machine shows here)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _markdown(r: dict) -> str:  # type: ignore[type-arg]
    lines = [
        "# TAP service benchmark", "", f"    {r['command']}", "",
        f"Machine: {r['machine']}, {r['cpus']} CPUs. Table `{r['table']}` in {r['data_dir']}.",
        f"Server: `qserv-access serve --workers {r['workers']}`.",
        "Times in ms (median / p95); raw HTTP = httpx GET /sync (BINARY2 VOTable).", "",
        "| query | rows | in-process engine | raw HTTP | pyvo | overhead | DaCHS raw HTTP "
        "| speed-up |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in r["raw_http"]:
        ip, raw, pv = r["in_process"][name], r["raw_http"][name], r["pyvo"][name]
        dachs = r["dachs_raw_http_ms"][name]
        lines.append(
            f"| {name} | {ip['rows']} | {ip['median_ms']} / {ip['p95_ms']} | "
            f"{raw['median_ms']} / {raw['p95_ms']} | {pv['median_ms']} / {pv['p95_ms']} | "
            f"{r['overhead_ms'][name]} | {dachs} | {dachs / raw['median_ms']:.1f}x |"
        )
    load = r["load"]
    lines += ["", f"Load: {load['clients']} concurrent clients for {load['seconds']} s "
              f"(mix of the four queries): {load['requests']} requests, "
              f"{load['throughput_rps']} req/s, median {load['median_ms']} ms, "
              f"mean {load['mean_ms']} ms, "
              f"p95 {load['p95_ms']} ms (p95/mean {load['p95_ms'] / load['mean_ms']:.2f}), "
              f"errors {load['errors']} (a response is an error "
              "unless it is the same bytes as the query's first answer). CPU per request: "
              f"server {load['server_cpu_ms_per_request']} ms (all its processes), load "
              f"generator {load['client_cpu_ms_per_request']} ms. Load average (1/5/15 min) "
              f"before {load['loadavg_before']}, after {load['loadavg_after']}.", ""]
    if (r.get("tree") and Path(r["tree"]) != ROOT) or r.get("server_env"):
        lines += [f"Server source tree {r.get('tree')}, environment {r.get('server_env')}.", ""]
    lines += ["Under load, per query kind (ms):", "",
              "| query | requests | median | mean | p95 |", "| --- | --- | --- | --- | --- |"]
    for name, st in load.get("by_kind", {}).items():
        lines.append(f"| {name} | {st['runs']} | {st['median_ms']} | {st['mean_ms']} | "
                     f"{st['p95_ms']} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
