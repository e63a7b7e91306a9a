"""Query benchmark: our engine against DuckDB (unsharded Parquet) and LSDB (same HATS data).

Run ``python -m bench.bench_query [--rows 20000000] [--runs 5] [--skip-100m]``. It reuses
(or generates) the synthetic catalog of ``bench.bench_ingest`` under ``bench/work/``,
ingests it with ours (10 arcsec margin, id index) plus a 100k-row probe table (catalog rows
jittered by 0.5 arcsec), then runs every query with each system in its own subprocess:

* ours: ``Engine.open(dir).query(adql).to_table()`` in-process (2 worker threads);
* DuckDB: the same SQL semantics (haversine distance) over
  ``read_parquet('bench/work/input/*.parquet')``;
* LSDB: ``lsdb.open_catalog`` on our HATS collection (with its margin), dask threaded
  scheduler.

Each query runs ``1 + runs`` times; the first (warm-up) run is excluded and the median of
the others is reported, with the peak RSS of the process sampled during the query's runs.
Row counts are compared between the systems. Then the cone searches and the aggregate run
again at 100M rows (``--big-rows``) to show how time grows with size. Results go to
``bench/results/query.json`` and ``query.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from bench.bench_ingest import generate

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
MARGIN_ARCSEC = 10.0
PROBE_ROWS = 100_000
JITTER_ARCSEC = 0.5
XMATCH_ARCSEC = 1.0
PAIR_ARCSEC = 5.0
COLS = ["id", "ra", "dec", "mag_g"]
OURS_TIMEOUT_S = 150.0
SYSTEM_TIMEOUT_S = 1500.0
"""Time limit of one query of ours (the engine cancels it): a query that hits it is not
repeated and is reported as taking more than this."""


# --------------------------------------------------------------------------- data

def input_dir(rows: int) -> Path:
    return WORK / "input" if rows == 20_000_000 else WORK / f"input_{rows}"


def data_dir(rows: int) -> Path:
    return WORK / f"qdata_{rows}"


def hats_path(ddir: Path, table: str) -> Path:
    tdir = ddir / "tables" / table
    return tdir / (tdir / "CURRENT").read_text().strip() / "catalog"


def centers() -> dict[str, tuple[float, float]]:
    """Cone centres (ICRS): in the dense galactic band and at high galactic latitude."""
    from astropy.coordinates import SkyCoord

    out = {}
    for name, (gl, gb) in {"band": (30.0, 1.0), "highlat": (120.0, 65.0)}.items():
        c = SkyCoord(l=gl, b=gb, unit="deg", frame="galactic").icrs
        out[name] = (round(float(c.ra.deg), 6), round(float(c.dec.deg), 6))
    return out


def make_probe(rows: int, out: Path, seed: int = 7) -> Path:
    """Take PROBE_ROWS catalog rows and move each by JITTER_ARCSEC in a random direction."""
    path = out / "probe.parquet"
    if path.exists():
        return path
    import duckdb

    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(rows, PROBE_ROWS, replace=False)).astype(np.int64)
    con = duckdb.connect()
    con.register("want", pa.table({"id": ids}))
    glob = str(input_dir(rows) / "*.parquet")
    src = con.execute(f"SELECT s.id, s.ra, s.dec FROM read_parquet('{glob}') s "
                      "JOIN want USING (id) ORDER BY s.id").to_arrow_table()
    ra = np.radians(src["ra"].to_numpy())
    dec = np.radians(src["dec"].to_numpy())
    # Move along a great circle by JITTER at a random position angle.
    d = math.radians(JITTER_ARCSEC / 3600)
    pa_ = rng.uniform(0, 2 * np.pi, len(ra))
    dec2 = np.arcsin(np.sin(dec) * np.cos(d) + np.cos(dec) * np.sin(d) * np.cos(pa_))
    ra2 = ra + np.arctan2(np.sin(pa_) * np.sin(d) * np.cos(dec),
                          np.cos(d) - np.sin(dec) * np.sin(dec2))
    tab = pa.table({"id": np.arange(len(ra), dtype=np.int64),
                    "src_id": src["id"].to_numpy(),
                    "ra": np.degrees(ra2) % 360.0, "dec": np.degrees(dec2)})
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(tab, path)
    return path


def prepare(rows: int, with_probe: bool) -> dict[str, Any]:
    """Generate (or reuse) the input files and ingest them with ours (or reuse)."""
    info: dict[str, Any] = {}
    t0 = time.monotonic()
    files = [str(f) for f in generate(rows, input_dir(rows))]
    info["generate_s"] = round(time.monotonic() - t0, 1)
    ddir = data_dir(rows)
    marker = ddir / "bench_ready"
    if not marker.exists():
        shutil.rmtree(ddir, ignore_errors=True)
        ddir.mkdir(parents=True)
        t0 = time.monotonic()
        _ingest_sub(ddir, "bench.synth", files)
        info["ingest_s"] = round(time.monotonic() - t0, 1)
        if with_probe:
            probe = make_probe(rows, ddir / "probe_src")
            _ingest_sub(ddir, "bench.probe", [str(probe)])
        marker.write_text("ok")
    return info


def _ingest_sub(ddir: Path, table: str, files: list[str]) -> None:
    cmd = [sys.executable, "-m", "bench.bench_query", "--ingest", str(ddir), "--table", table,
           "--files", *files]
    subprocess.run(cmd, cwd=HERE.parent, check=True)


def run_ingest(ddir: str, table: str, files: list[str]) -> None:
    from engine.ingest.api import ingest_files

    ingest_files(ddir, table, files, ra="ra", dec="dec", id_column="id",
                 margin_arcsec=MARGIN_ARCSEC, progress=False, workers=2)


# --------------------------------------------------------------------------- queries

def query_specs(rows: int, big: bool) -> list[dict[str, Any]]:
    """The benchmark's queries: name, kind and parameters."""
    specs: list[dict[str, Any]] = []
    for where, (ra, dec) in centers().items():
        for label, r in (("1arcmin", 1 / 60), ("1deg", 1.0), ("10deg", 10.0)):
            specs.append({"name": f"cone {label} {where}", "kind": "cone", "ra": ra,
                          "dec": dec, "r": r})
    specs.append({"name": "aggregate GROUP BY flags", "kind": "agg"})
    if big:
        return specs
    # An id in the middle of the catalog (from the middle input file).
    specs.append({"name": "id lookup", "kind": "id", "id": rows // 2 + 12345})
    ra, dec = centers()["band"]
    specs.append({"name": "neighbours <5\" in 1deg region", "kind": "pairs", "ra": ra,
                  "dec": dec, "r": 1.0})
    specs.append({"name": "cross-match 100k @1\" NN", "kind": "xmatch"})
    return specs


def hav_deg(ra1: str, dec1: str, ra2: str, dec2: str) -> str:
    """Great-circle distance in degrees (haversine), as DuckDB SQL."""
    return (f"DEGREES(2 * ASIN(LEAST(1.0, SQRT(POWER(SIN(RADIANS({dec2} - {dec1}) / 2), 2) + "
            f"COS(RADIANS({dec1})) * COS(RADIANS({dec2})) * "
            f"POWER(SIN(RADIANS({ra2} - {ra1}) / 2), 2)))))")


def ours_sql(q: dict[str, Any]) -> str:
    k = q["kind"]
    if k == "cone":
        return (f"SELECT id, ra, dec, mag_g FROM bench.synth WHERE 1 = CONTAINS(POINT(ra, dec), "
                f"CIRCLE({q['ra']}, {q['dec']}, {q['r']!r}))")
    if k == "agg":
        return "SELECT flags, COUNT(*) AS n, AVG(mag_g) AS m FROM bench.synth GROUP BY flags"
    if k == "id":
        return f"SELECT * FROM bench.synth WHERE id = {q['id']}"
    if k == "xmatch":
        return ("SELECT p.id, MIN(DISTANCE(POINT(p.ra, p.dec), POINT(s.ra, s.dec))) AS d "
                "FROM bench.probe AS p JOIN bench.synth AS s ON 1 = CONTAINS(POINT(p.ra, p.dec), "
                f"CIRCLE(s.ra, s.dec, {XMATCH_ARCSEC}/3600.)) GROUP BY p.id")
    if k == "pairs":
        c = f"CIRCLE({q['ra']}, {q['dec']}, {q['r']!r})"
        return ("SELECT COUNT(*) AS n FROM bench.synth AS a JOIN bench.synth AS b "
                f"ON 1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, {PAIR_ARCSEC}/3600.)) "
                f"WHERE 1 = CONTAINS(POINT(a.ra, a.dec), {c}) "
                f"AND 1 = CONTAINS(POINT(b.ra, b.dec), {c}) AND a.id <> b.id")
    raise ValueError(k)


def duck_sql(q: dict[str, Any], rows: int) -> str:
    src = f"read_parquet('{input_dir(rows)}/*.parquet')"
    k = q["kind"]
    if k == "cone":
        return (f"SELECT id, ra, dec, mag_g FROM {src} "
                f"WHERE {hav_deg('ra', 'dec', str(q['ra']), str(q['dec']))} <= {q['r']!r}")
    if k == "agg":
        return f"SELECT flags, COUNT(*) AS n, AVG(mag_g) AS m FROM {src} GROUP BY flags"
    if k == "id":
        return f"SELECT * FROM {src} WHERE id = {q['id']}"
    if k == "xmatch":
        probe = data_dir(rows) / "probe_src" / "probe.parquet"
        r = XMATCH_ARCSEC / 3600
        return (f"WITH c AS (SELECT p.id, {hav_deg('p.ra', 'p.dec', 's.ra', 's.dec')} AS d "
                f"FROM read_parquet('{probe}') p JOIN {src} s "
                f"ON s.dec BETWEEN p.dec - {r!r} AND p.dec + {r!r}) "
                f"SELECT id, MIN(d) AS d FROM c WHERE d <= {r!r} GROUP BY id")
    if k == "pairs":
        r = PAIR_ARCSEC / 3600
        region = f"SELECT id, ra, dec FROM {src} WHERE " + \
            f"{hav_deg('ra', 'dec', str(q['ra']), str(q['dec']))} <= {q['r']!r}"
        return (f"WITH g AS ({region}) SELECT COUNT(*) AS n FROM g a JOIN g b "
                f"ON b.dec BETWEEN a.dec - {r!r} AND a.dec + {r!r} "
                f"WHERE a.id <> b.id AND {hav_deg('a.ra', 'a.dec', 'b.ra', 'b.dec')} <= {r!r}")
    raise ValueError(k)


def count_rows(result: Any) -> int:
    """Rows of a result; for COUNT(*) queries, the count."""
    if isinstance(result, pa.Table):
        if result.column_names == ["n"] and result.num_rows == 1:
            return int(result.column("n")[0].as_py())
        return result.num_rows
    return len(result)


def runners(system: str, rows: int) -> Callable[[dict[str, Any]], Callable[[], int]]:
    """Return a factory: query spec -> zero-argument callable returning the result's rows."""
    if system == "ours":
        from engine.api import Engine

        eng = Engine.open(data_dir(rows))

        def make_ours(q: dict[str, Any]) -> Callable[[], int]:
            sql = ours_sql(q)
            return lambda: count_rows(eng.query(sql, maxrec=None,
                                                timeout_s=OURS_TIMEOUT_S).to_table())
        return make_ours
    if system == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET threads = 2")

        def make_duck(q: dict[str, Any]) -> Callable[[], int]:
            sql = duck_sql(q, rows)
            return lambda: count_rows(con.execute(sql).to_arrow_table())
        return make_duck
    if system == "lsdb":
        import dask
        import lsdb

        dask.config.set(scheduler="threads", num_workers=2)
        ddir = data_dir(rows)
        synth_path = hats_path(ddir, "bench.synth")
        cat = lsdb.open_catalog(synth_path, columns=COLS)
        agg_cat = lsdb.open_catalog(synth_path, columns=["flags", "mag_g"])
        full = lsdb.open_catalog(synth_path)
        probe = None
        if (ddir / "tables" / "bench.probe").exists():
            probe = lsdb.open_catalog(hats_path(ddir, "bench.probe"),
                                      columns=["id", "ra", "dec"])

        def agg() -> int:
            def part(df: Any) -> Any:
                g = df.groupby("flags")["mag_g"]
                return g.agg(["size", "sum"]).reset_index()
            meta = {"flags": "int16", "size": "int64", "sum": "float64"}
            parts = agg_cat.map_partitions(part, meta=meta).compute()
            g = parts.groupby("flags").sum()
            g["m"] = g["sum"] / g["size"]
            return len(g)

        def id_lookup(value: int) -> int:
            try:
                return len(full.id_search(values={"id": value}).compute())
            except Exception:  # noqa: BLE001  (no HATS index catalog: a filtered scan)
                return len(full.query(f"id == {value}").compute())

        def xmatch() -> int:
            assert probe is not None
            res = probe.crossmatch(cat, radius_arcsec=XMATCH_ARCSEC, n_neighbors=1).compute()
            return len(res)

        def pairs(q: dict[str, Any]) -> int:
            region = cat.cone_search(q["ra"], q["dec"], q["r"] * 3600)
            res = region.crossmatch(region, radius_arcsec=PAIR_ARCSEC, n_neighbors=50,
                                    suffixes=("_a", "_b")).compute()
            return int((res["id_a"] != res["id_b"]).sum())

        def make_lsdb(q: dict[str, Any]) -> Callable[[], int]:
            k = q["kind"]
            if k == "cone":
                return lambda: len(cat.cone_search(q["ra"], q["dec"], q["r"] * 3600).compute())
            if k == "agg":
                return agg
            if k == "id":
                return lambda: id_lookup(q["id"])
            if k == "xmatch":
                return xmatch
            if k == "pairs":
                return lambda: pairs(q)
            raise ValueError(k)
        return make_lsdb
    raise ValueError(system)


class Sampler:
    """Samples this process's RSS in a thread; ``reset`` starts a new window."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def reset(self) -> None:
        self.peak = self.proc.memory_info().rss


def run_system(system: str, rows: int, runs: int, big: bool, out: Path,
               max_seconds: float) -> None:
    """Run every query with one system (in this subprocess) and write a JSON file."""
    sampler = Sampler()
    t0 = time.monotonic()
    factory = runners(system, rows)
    setup_s = time.monotonic() - t0
    results: dict[str, Any] = {"setup_s": round(setup_s, 3), "queries": {}}
    for q in query_specs(rows, big):
        sampler.reset()
        rec: dict[str, Any] = {}
        t = time.perf_counter()
        try:
            fn = factory(q)
            times = []
            n = -1
            for i in range(runs + 1):
                t = time.perf_counter()
                n = fn()
                times.append(time.perf_counter() - t)
                # Keep the run bounded: slow queries get fewer runs (noted in the results).
                if i >= 3 and sum(times) > max_seconds:
                    break
            rec = {"ms": round(statistics.median(times[1:]) * 1000, 2) if len(times) > 1
                   else round(times[0] * 1000, 2),
                   "warmup_ms": round(times[0] * 1000, 2),
                   "all_ms": [round(x * 1000, 2) for x in times], "runs": len(times) - 1,
                   "rows": n, "peak_rss_mib": round(sampler.peak / 2**20, 1)}
        except Exception as exc:  # noqa: BLE001  (record it, go on with the next query)
            rec = {"error": f"{type(exc).__name__}: {exc}"[:500],
                   "seconds_before_error": round(time.perf_counter() - t, 1),
                   "peak_rss_mib": round(sampler.peak / 2**20, 1)}
        results["queries"][q["name"]] = rec
        print(system, rows, q["name"], rec, flush=True)
        out.write_text(json.dumps(results, indent=1))
    sampler.done.set()
    out.write_text(json.dumps(results, indent=1))


# --------------------------------------------------------------------------- driver

def bench_size(rows: int, runs: int, big: bool, max_seconds: float) -> dict[str, Any]:
    """Run the three systems, each in its own subprocess, on one catalog size."""
    per: dict[str, Any] = {}
    for system in ("ours", "duckdb", "lsdb"):
        out = WORK / f"result_{system}_{rows}.json"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "bench.bench_query", "--run", system, "--rows", str(rows),
               "--runs", str(runs), "--out", str(out), "--max-seconds", str(max_seconds)]
        if big:
            cmd.append("--big")
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=HERE.parent, timeout=SYSTEM_TIMEOUT_S)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = -9
        res = json.loads(out.read_text()) if out.exists() else {"queries": {}}
        res["wall_s"] = round(time.monotonic() - t0, 1)
        if code != 0:
            res["exit_code"] = code
        per[system] = res
    table = []
    for q in query_specs(rows, big):
        name = q["name"]
        row: dict[str, Any] = {"query": name, "kind": q["kind"]}
        counts = {}
        for system in ("ours", "duckdb", "lsdb"):
            rec = per[system]["queries"].get(name, {"error": "missing"})
            row[system] = rec
            if "rows" in rec:
                counts[system] = rec["rows"]
        ours = row["ours"].get("ms")
        for peer in ("duckdb", "lsdb"):
            theirs = row[peer].get("ms")
            row[f"ours/{peer}"] = round(ours / theirs, 3) if ours and theirs else None
        row["rows"] = counts
        row["rows_agree"] = len(set(counts.values())) <= 1
        row["rows_complete"] = len(counts) == 3
        if not row["rows_agree"]:
            print(f"WARNING: row counts differ for {name!r} at {rows} rows: {counts}",
                  flush=True)
        row["goal"] = goal(q, row)
        table.append(row)
    return {"rows": rows, "systems": {s: {k: v for k, v in per[s].items() if k != "queries"}
                                      for s in per}, "queries": table}


def goal(q: dict[str, Any], row: dict[str, Any]) -> dict[str, Any] | None:
    ours = row["ours"].get("ms")
    if q["kind"] == "cone" and q["r"] < 0.1:
        return {"text": "median <= 10 ms in-process",
                "met": bool(ours is not None and ours <= 10.0)}
    if q["kind"] == "agg":
        r = row.get("ours/duckdb")
        return {"text": "within 1.2x of DuckDB", "met": bool(r is not None and r <= 1.2)}
    if q["kind"] == "xmatch":
        r = row.get("ours/lsdb")
        return {"text": ">= 5x faster than LSDB", "met": bool(r is not None and r <= 0.2)}
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-100m", action="store_true", help="skip the larger run")
    parser.add_argument("--big-rows", type=int, default=100_000_000,
                        help="rows of the larger run (cones and aggregate only)")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop repeating a query after this many seconds (>= 3 runs)")
    parser.add_argument("--big-only", action="store_true",
                        help="only the larger run, added to an existing query.json")
    parser.add_argument("--render", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", choices=["ours", "duckdb", "lsdb"], help=argparse.SUPPRESS)
    parser.add_argument("--big", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--ingest", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ingest:
        run_ingest(args.ingest, args.table, args.files)
        return
    if args.render:  # rewrite query.md from query.json
        write_results(json.loads((RESULTS / "query.json").read_text()))
        return
    if args.run:
        run_system(args.run, args.rows, args.runs, args.big, Path(args.out), args.max_seconds)
        return

    command = " ".join(["python -m bench.bench_query", *sys.argv[1:]])
    results: dict[str, Any]
    if args.big_only:
        results = json.loads((RESULTS / "query.json").read_text())
        results["command_big"] = command
        results["prepare"][str(args.big_rows)] = prepare(args.big_rows, with_probe=False)
        results["big"] = bench_size(args.big_rows, args.runs, True, args.max_seconds)
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_results(results)
        return
    results = {
        "command": command,
        "runs": args.runs, "cpus": os.cpu_count(), "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "centers_icrs": centers(), "probe_rows": PROBE_ROWS, "jitter_arcsec": JITTER_ARCSEC,
    }
    results["prepare"] = {str(args.rows): prepare(args.rows, with_probe=True)}
    results["main"] = bench_size(args.rows, args.runs, False, args.max_seconds)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_results(results)
    if not args.skip_100m:
        results["prepare"][str(args.big_rows)] = prepare(args.big_rows, with_probe=False)
        results["big"] = bench_size(args.big_rows, args.runs, True, args.max_seconds)
        results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_results(results)


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if x >= 100:
            return f"{x:,.1f}"
        return f"{x:.3g}" if x < 1 else f"{x:.2f}".rstrip("0").rstrip(".")
    return str(x)


def _ms(rec: dict[str, Any]) -> str:
    if "ms" in rec:
        return _fmt(rec["ms"])
    err = rec.get("error", "?")
    if "longer than its limit" in err:
        return f"> {rec.get('seconds_before_error', OURS_TIMEOUT_S):,.0f} s (time limit, stopped)"
    return f"error ({err[:60]})"


def write_results(results: dict[str, Any]) -> None:
    """Write ``query.json`` and ``query.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for key in ("main", "big"):
        for row in results.get(key, {}).get("queries", []):
            row["rows_agree"] = len(set(row["rows"].values())) <= 1
            row["rows_complete"] = len(row["rows"]) == 3
    (RESULTS / "query.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Query benchmark", "",
             f"`{results['command']}`"
             + (f" then `{results['command_big']}`" if "command_big" in results else "")
             + f" on {results['cpus']} CPUs ({results['machine']}). "
             "Medians of the runs after one warm-up run, in ms; ratios are ours/peer "
             "(below 1: ours faster). Peak RSS is the process's, sampled during that "
             "query's runs. DuckDB reads the unsharded input Parquet files; LSDB opens our "
             "HATS collection (with margin) on the dask threaded scheduler.", ""]
    for key in ("main", "big"):
        if key not in results:
            continue
        sec = results[key]
        lines += [f"## {sec['rows']:,} rows", "",
                  "| query | ours ms | duckdb ms | lsdb ms | ours/duckdb | ours/lsdb | rows "
                  "(ours/duckdb/lsdb) | peak RSS MiB (ours/duckdb/lsdb) | goal met? |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
        for row in sec["queries"]:
            rows = "/".join(str(row["rows"].get(s, "?")) for s in ("ours", "duckdb", "lsdb"))
            if not row["rows_agree"]:
                rows += " **MISMATCH**"
            elif not row["rows_complete"]:
                rows += " (not all systems finished)"
            rss = "/".join(_fmt(row[s].get("peak_rss_mib")) for s in ("ours", "duckdb", "lsdb"))
            g = row["goal"]
            gtxt = "" if g is None else f"{'**yes**' if g['met'] else '**no**'} ({g['text']})"
            lines.append(f"| {row['query']} | {_ms(row['ours'])} | {_ms(row['duckdb'])} | "
                         f"{_ms(row['lsdb'])} | {_fmt(row['ours/duckdb'])} | "
                         f"{_fmt(row['ours/lsdb'])} | {rows} | {rss} | {gtxt} |")
        lines.append("")
    if "main" in results and "big" in results:
        lines += [f"## Growth from {results['main']['rows']:,} to {results['big']['rows']:,} "
                  "rows (time ratio)", "", "| query | ours | duckdb | lsdb |",
                  "| --- | ---: | ---: | ---: |"]
        small = {r["query"]: r for r in results["main"]["queries"]}
        for row in results["big"]["queries"]:
            s = small.get(row["query"])
            if s is None:
                continue
            cells = []
            for sysname in ("ours", "duckdb", "lsdb"):
                a, b = s[sysname].get("ms"), row[sysname].get("ms")
                cells.append(f"{b / a:.2f}x" if a and b else "–")
            lines.append(f"| {row['query']} | {' | '.join(cells)} |")
        lines.append("")
    if results.get("notes"):
        lines += ["## Notes", "", *[f"- {n}" for n in results["notes"]], ""]
    lines += [f"Load average (1, 5, 15 min) at start {results['load_average_at_start']}, at end "
              f"{results.get('load_average_at_end')}: the machine is shared.", ""]
    (RESULTS / "query.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
