"""Shared-scan benchmark: four concurrent full-scan aggregates against one alone.

Run ``python -m bench.bench_shared_scan --data-dir DIR --table SCHEMA.TABLE`` on an
existing table (the billion-row one of notebook 02), or ``--rows N`` to build a synthetic
table first (``qserv_access.synthetic_source``, ingested into a temporary folder that is
removed at the end). For each of shared scans on and off (``EngineOptions.shared_scans``)
it times, in turns, one full-scan aggregate alone and ``--clients`` threads on one engine
each running a different full-scan aggregate at once (the time until the last finishes),
and counts the partition reads of the shared runs (the scheduler's own counter). With
``--cold`` (root only) the page cache is dropped before every timed run. Beside wall time
it records the process's CPU seconds (all threads), which say more than wall time on a
shared, loaded machine.

``--profile`` also measures where one shared step's time goes (CPU seconds, the best of
``--repeats``, summed over the table in steps of the scheduler's size): each query's scan
SQL over the Parquet files (what a rider pays now: it decodes for itself), and the
alternative of decoding the union of the queries' columns once per step into Arrow and
running each query's SQL over that table (what a rider would pay if the elevator shared
the decoding).

``--ceiling`` bounds what sharing could reach, through DuckDB alone on the table's
published files (no engine): the CPU of each query alone, of the four, of decoding the
union of their columns once plus each query's work beyond decoding (the ideal shared
scan), and of two real ways of decoding once (into Arrow per partition; one fused
statement). With two cores busy under one query alone, four at once within 1.5x of it
needs the four's CPU within about 1.5x of its CPU.

Results go to ``bench/results/shared_scan.json`` and ``shared_scan.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SYNTHETIC_TABLE = "bench.synth"

AGGREGATES = (
    "SELECT flags, COUNT(*) AS n, AVG(mag_r) AS mean_r, MIN(mag_g) AS min_g, "
    "MAX(dec) AS max_dec FROM {t} GROUP BY flags",
    "SELECT COUNT(mag_u) AS n, AVG(mag_u) AS mean_u, MAX(mag_u) AS max_u FROM {t}",
    "SELECT MIN(ra) AS min_ra, MAX(ra) AS max_ra, SUM(mag_z) AS sum_z FROM {t} "
    "WHERE dec > 0",
    "SELECT COUNT(id) AS n, AVG(mag_i - mag_z) AS color FROM {t} WHERE mag_i < 22",
)
"""Four full-scan aggregates over different columns of the synthetic catalog's schema
(``id, ra, dec, mag_u .. mag_z, flags``); the first is the one timed alone (notebook 02's)."""

FUSED = (
    "SELECT flags, COUNT(*) AS n, SUM(mag_r) AS sum_r, COUNT(mag_r) AS n_r, "
    "MIN(mag_g) AS min_g, MAX(dec) AS max_dec, COUNT(mag_u) AS n_u, SUM(mag_u) AS sum_u, "
    "MAX(mag_u) AS max_u, MIN(ra) FILTER (WHERE dec > 0) AS min_ra, "
    "MAX(ra) FILTER (WHERE dec > 0) AS max_ra, SUM(mag_z) FILTER (WHERE dec > 0) AS sum_z, "
    "COUNT(id) FILTER (WHERE mag_i < 22) AS n_id, "
    "SUM(mag_i - mag_z) FILTER (WHERE mag_i < 22) AS sum_color, "
    "COUNT(mag_i - mag_z) FILTER (WHERE mag_i < 22) AS n_color FROM {t} GROUP BY flags"
)
"""The four :data:`AGGREGATES` as ONE statement: every aggregate side by side, grouped by
``flags`` (the ungrouped ones are re-aggregated over the few groups afterwards, as a merge
would), so the union of their columns is decoded once and hashed once."""

QUERY_COLUMNS = (("flags", "mag_r", "mag_g", "dec"), ("mag_u",), ("ra", "dec", "mag_z"),
                 ("id", "mag_i", "mag_z"))
"""The columns each of :data:`AGGREGATES` reads (``--ceiling`` decodes them alone)."""


def drop_page_cache() -> None:
    """Write back and drop the page cache (root only), so the next run reads the disk."""
    subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True,
                   capture_output=True, timeout=300)


def build_synthetic(rows: int, root: Path) -> Path:
    """Ingest ``rows`` synthetic rows into a data directory under ``root``."""
    import qserv_access

    data = root / "data"
    source = qserv_access.synthetic_source(rows, seed=42)
    qserv_access.ingest(data, SYNTHETIC_TABLE, source, ra="ra", dec="dec", id_column="id")
    return data


def run_once(engine: Any, adqls: list[str], cold: bool
             ) -> tuple[float, float, list[Any]]:
    """Wall and CPU seconds until every query of ``adqls`` (one thread each) finished;
    results."""
    if cold:
        drop_page_cache()
    results: list[Any] = [None] * len(adqls)
    errors: list[BaseException] = []
    start = threading.Barrier(len(adqls) + 1)

    def client(i: int) -> None:
        start.wait()
        try:
            results[i] = engine.query(adqls[i]).to_table()
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(adqls))]
    for t in threads:
        t.start()
    began, cpu = time.perf_counter(), time.process_time()
    start.wait()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began, time.process_time() - cpu, results


def storage_read_bytes() -> int:
    """Bytes this process has read from storage (not the page cache), from /proc; 0 where
    the kernel does not say."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines()
                 if line.startswith("read_bytes:")), 0)


FLOAT_RTOL = 1e-9
"""Floats of the two answers agree within this relative tolerance: a SUM or AVG over many
rows differs in its last bits with the order its partial sums are added in (shared scans
finish tasks in another order). Integers, strings and row counts compare exactly."""


def canonical(table: Any) -> list[tuple[Any, ...]]:
    """Rows sorted by their non-float values (the group keys), floats as they came."""
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda row: repr([v for v in row if not isinstance(v, float)]))


def differences(query: str, columns: list[str], ours: list[tuple[Any, ...]],
                theirs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Every value of two canonical answers that differs: exactly for non-floats, beyond
    ``FLOAT_RTOL`` for floats (``within_tolerance`` says which floats differ only in their
    last bits)."""
    if len(ours) != len(theirs):
        return [{"query": query, "rows": [len(ours), len(theirs)], "within_tolerance": False}]
    found = []
    for row, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for column, x, y in zip(columns, a, b, strict=True):
            if x == y:
                continue
            floats = isinstance(x, float) and isinstance(y, float)
            rel = abs(x - y) / max(abs(x), abs(y)) if floats else None
            found.append({"query": query, "row": row, "column": column, "shared": x,
                          "unshared": y, "relative": rel,
                          "within_tolerance": rel is not None and rel <= FLOAT_RTOL})
    return found


def measure(data_dir: Path, table: str, *, clients: int, repeats: int, cold: bool,
            rows_per_task: int | None = None, step_mb: int | None = None) -> dict[str, Any]:
    """Alone and together, shared scans on and off, in turns (the first run is a warm-up,
    except cold: every run then starts from an empty page cache)."""
    from engine.api import Engine, EngineOptions

    adqls = [AGGREGATES[i % len(AGGREGATES)].format(t=table) for i in range(clients)]
    engines = {mode: Engine.open(data_dir, EngineOptions(shared_scans=mode == "shared",
                                                         rows_per_task=rows_per_task))
               for mode in ("shared", "unshared")}
    if step_mb is not None:
        engines["shared"]._executor.scans.step_bytes = step_mb * 2**20  # type: ignore[union-attr]
    samples: dict[str, dict[str, list[float]]] = {
        m: {"alone": [], "together": [], "alone_cpu": [], "together_cpu": []}
        for m in engines}
    answers: dict[str, list[Any]] = {}
    reads: list[float] = []
    disk: dict[str, list[int]] = {m: [] for m in engines}
    partitions = len(engines["shared"].table(table).partitions)
    try:
        warmup = 0 if cold else 1
        for i in range(repeats + warmup):
            order = list(engines) if i % 2 == 0 else list(reversed(engines))
            for mode in order:
                engine = engines[mode]
                alone, alone_cpu, _ = run_once(engine, adqls[:1], cold)
                scans = engine._executor.scans if mode == "shared" else None
                before = sum(scans.stats().reads.values()) if scans else 0
                disk_before = storage_read_bytes()
                together, together_cpu, got = run_once(engine, adqls, cold)
                disk[mode].append(storage_read_bytes() - disk_before)
                if scans is not None:
                    reads.append((sum(scans.stats().reads.values()) - before) / partitions)
                answers[mode] = [(t.column_names, canonical(t)) for t in got]
                if i >= warmup:
                    samples[mode]["alone"].append(alone)
                    samples[mode]["together"].append(together)
                    samples[mode]["alone_cpu"].append(alone_cpu)
                    samples[mode]["together_cpu"].append(together_cpu)
    finally:
        for engine in engines.values():
            engine.close()
    diffs = [d for q, (cols, a), (_, b) in zip(adqls, answers["shared"], answers["unshared"],
                                              strict=True) for d in differences(q, cols, a, b)]
    out: dict[str, Any] = {"partitions": partitions, "clients": clients, "queries": adqls,
                           "same_results": all(d["within_tolerance"] for d in diffs),
                           "float_rtol": FLOAT_RTOL, "differences": diffs,
                           "reads_per_partition_together": reads[warmup:] or reads}
    for mode, got in samples.items():
        alone, together = statistics.median(got["alone"]), statistics.median(got["together"])
        alone_cpu = statistics.median(got["alone_cpu"])
        together_cpu = statistics.median(got["together_cpu"])
        out[mode] = {"alone_s": round(alone, 4), "together_s": round(together, 4),
                     "together/alone": round(together / alone, 3),
                     "alone_cpu_s": round(alone_cpu, 3), "together_cpu_s": round(together_cpu, 3),
                     "together/alone cpu": round(together_cpu / alone_cpu, 3),
                     "storage_read_mb_together": [round(b / 1e6, 1) for b in disk[mode][warmup:]],
                     "all_alone_s": [round(x, 4) for x in got["alone"]],
                     "all_together_s": [round(x, 4) for x in got["together"]]}
    out["together cpu shared/unshared"] = round(
        out["shared"]["together_cpu_s"] / out["unshared"]["together_cpu_s"], 3)
    out["alone shared/unshared"] = round(out["shared"]["alone_s"] / out["unshared"]["alone_s"], 3)
    out["together shared/unshared"] = round(
        out["shared"]["together_s"] / out["unshared"]["together_s"], 3)
    return out


def markdown(results: dict[str, Any]) -> str:
    """The results as a short Markdown report."""
    r = results["measured"]
    lines = [
        "# Shared scans", "",
        f"`{results['command']}`, {results['rows']:,} rows in {r['partitions']:,} partitions, "
        f"{results['cpus']} CPUs, {'cold' if results['cold'] else 'warm'} cache, load average "
        f"{results['load_average_at_start']} at the start. Medians of {results['repeats']} "
        "runs in turns.", "",
        f"| shared scans | one alone (s) | {r['clients']} at once (s) | at once / alone | "
        f"one alone (CPU s) | {r['clients']} at once (CPU s) | at once / alone (CPU) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode in ("shared", "unshared"):
        m = r[mode]
        lines.append(f"| {'on' if mode == 'shared' else 'off'} | {m['alone_s']:.3f} | "
                     f"{m['together_s']:.3f} | {m['together/alone']:.2f} | "
                     f"{m['alone_cpu_s']:.3f} | {m['together_cpu_s']:.3f} | "
                     f"{m['together/alone cpu']:.2f} |")
    reads = r["reads_per_partition_together"]
    lines += ["", f"- one alone, shared on / off: {r['alone shared/unshared']:.3f}",
              f"- {r['clients']} at once, shared on / off: {r['together shared/unshared']:.3f} "
              f"(CPU {r['together cpu shared/unshared']:.3f})",
              f"- partition reads per partition, {r['clients']} at once with sharing: "
              f"{min(reads):.2f} to {max(reads):.2f}",
              f"- bytes read from storage, {r['clients']} at once (MB, each run): shared "
              f"{r['shared']['storage_read_mb_together']}, unshared "
              f"{r['unshared']['storage_read_mb_together']}",
              f"- same results on and off: {r['same_results']} (integers exactly, floats "
              f"within a relative {r.get('float_rtol', 0)}); values that differ:"
              f" {len(r.get('differences', []))}", *difference_lines(r.get("differences", [])),
              "", "Queries:", ""]
    lines += [f"- `{q}`" for q in r["queries"]]
    if "profile" in results:
        lines += ["", *profile_markdown(results["profile"])]
    if "ceiling" in results:
        lines += ["", *ceiling_markdown(results["ceiling"])]
    return "\n".join(lines) + "\n"


def difference_lines(diffs: list[dict[str, Any]]) -> list[str]:
    """One Markdown line per differing value (shared vs unshared, relative difference)."""
    return [f"  - `{d['query']}` row {d.get('row')}, {d.get('column')}: on {d.get('shared')!r},"
            f" off {d.get('unshared')!r}, relative {d.get('relative')}"
            f"{'' if d['within_tolerance'] else ' (BEYOND TOLERANCE)'}" for d in diffs]


def profile(data_dir: Path, table: str, *, clients: int, repeats: int) -> dict[str, Any]:
    """CPU seconds of the parts of a shared step, over the whole table (see the module's
    docstring): each query over the files, the union decoded once, each over the decoded
    table; on the engine's own database and cursors, one statement at a time."""
    from engine.api import Engine, EngineOptions
    from engine.execute.shared_scan import ScanCursor, ScanScheduler
    from engine.plan import SCAN_RELATION

    adqls = [AGGREGATES[i % len(AGGREGATES)].format(t=table) for i in range(clients)]
    engine = Engine.open(data_dir, EngineOptions(shared_scans=True))
    try:
        scans: ScanScheduler = engine._executor.scans  # type: ignore[union-attr]
        plans = [[t.scan for t in engine.plan(q).tasks] for q in adqls]
        tasks = [s for s in plans[0] if s is not None]
        shares = [p[0] for p in plans if p[0] is not None]
        assert len(shares) == len(adqls), "every query must be a shareable scan"
        files = [f for t in tasks for f in t.files]
        rows = dict(zip(files, [n for t in tasks for n in t.rows], strict=True))
        widths: dict[str, int] = {}
        for share in shares:
            for c, w in zip(share.columns, share.row_bytes, strict=True):
                widths[c] = max(widths.get(c, 0), w)
        columns = sorted(widths)
        steps: list[list[str]] = [[]]
        for f in files:  # steps of the scheduler's size, as its elevator makes them
            if steps[-1] and (sum(rows[g] for g in steps[-1]) + rows[f]) * sum(
                    widths.values()) > scans.step_bytes:
                steps.append([])
            steps[-1].append(f)

        def best(fn: Any, *args: Any) -> float:
            times = []
            for _ in range(repeats):
                began = time.process_time()
                fn(*args)
                times.append(time.process_time() - began)
            return min(times)

        def over_files(sql: str, step: list[str]) -> None:
            cursor = ScanCursor(scans.con, sql, step, {}, ())
            try:
                cursor.relation.to_arrow_table()
            finally:
                cursor.close()

        def decode(step: list[str]) -> Any:
            with scans.con.cursor() as cursor:
                return cursor.read_parquet(step).project(
                    ", ".join(f'"{c}"' for c in columns)).to_arrow_table()

        def over_decoded(sql: str, table: Any) -> None:
            with scans.con.cursor() as cursor:
                relation = cursor.from_arrow(table).query(SCAN_RELATION, sql)
                assert relation is not None  # a SELECT
                relation.to_arrow_table()

        files_s = [0.0] * len(shares)
        decoded_s = [0.0] * len(shares)
        decode_s = 0.0
        for step in steps:  # one step's decoded rows in memory at a time
            for i, share in enumerate(shares):
                files_s[i] += best(over_files, share.sql, step)
            decode_s += best(decode, step)
            table = decode(step)
            for i, share in enumerate(shares):
                decoded_s[i] += best(over_decoded, share.sql, table)
            del table
        out: dict[str, Any] = {
            "steps": len(steps), "columns": columns,
            "over_files_cpu_s": [round(x, 3) for x in files_s],
            "decode_once_cpu_s": round(decode_s, 3),
            "over_decoded_cpu_s": [round(x, 3) for x in decoded_s],
        }
    finally:
        engine.close()
    alone = out["over_files_cpu_s"][0]
    out["unshared_all_cpu_s"] = round(sum(out["over_files_cpu_s"]), 3)
    out["shared_all_cpu_s"] = round(out["decode_once_cpu_s"] + sum(out["over_decoded_cpu_s"]), 3)
    out["unshared_all/alone"] = round(out["unshared_all_cpu_s"] / alone, 3)
    out["shared_all/alone"] = round(out["shared_all_cpu_s"] / alone, 3)
    return out


def profile_markdown(p: dict[str, Any]) -> list[str]:
    """The profile as a Markdown table."""
    lines = [f"Where a step's time goes (CPU s over the whole table in {p['steps']} steps, "
             "best of the repeats per step, one statement at a time):", "",
             "| query | its SQL over the files (decodes for itself: now) | its SQL over "
             "the step decoded once into Arrow (shared decoding) |", "| --- | ---: | ---: |"]
    for i, (a, b) in enumerate(zip(p["over_files_cpu_s"], p["over_decoded_cpu_s"],
                                   strict=True)):
        lines.append(f"| {i + 1} | {a:.3f} | {b:.3f} |")
    lines += [f"| decode the union of the columns once ({len(p['columns'])}) | | "
              f"{p['decode_once_cpu_s']:.3f} |",
              f"| all (1 alone = query 1 over the files: {p['over_files_cpu_s'][0]:.3f}) | "
              f"{p['unshared_all_cpu_s']:.3f} ({p['unshared_all/alone']:.2f}x alone) | "
              f"{p['shared_all_cpu_s']:.3f} ({p['shared_all/alone']:.2f}x alone) |"]
    return lines


def ceiling(data_dir: Path, table: str, *, repeats: int, threads: int) -> dict[str, Any]:
    """What the four :data:`AGGREGATES` cost through DuckDB alone on the table's published
    files (no engine; ``threads`` threads), best of ``repeats`` by CPU: each alone, the four
    one after another and at once (four cursors), and three ways of decoding the union of
    their columns once: the ideal (the union decoded once, :data:`QUERY_COLUMNS` touched by
    the cheapest aggregate, plus each query's work beyond decoding its own columns), decoded
    per partition into Arrow with each query over it, and :data:`FUSED`."""
    import duckdb

    from engine.api import Engine

    engine = Engine.open(data_dir)
    try:
        files = sorted(f for t in engine.plan(AGGREGATES[0].format(t=table)).tasks
                       if t.scan is not None for f in t.scan.files)
    finally:
        engine.close()
    con = duckdb.connect(config={"threads": threads})
    union = sorted(set().union(*QUERY_COLUMNS))

    def best(fn: Any) -> tuple[float, float]:
        runs = []
        for _ in range(repeats + 1):  # the first warms the cache
            began, cpu = time.perf_counter(), time.process_time()
            fn()
            runs.append((time.perf_counter() - began, time.process_time() - cpu))
        return min(runs[1:], key=lambda r: r[1])

    def run(sql: str) -> Any:
        with con.cursor() as cursor:
            scan: Any = cursor.read_parquet(files)  # named "t" in the SQL
            return scan.query("t", sql).to_arrow_table()

    def at_once() -> None:
        clients = [threading.Thread(target=run, args=(q.format(t="t"),)) for q in AGGREGATES]
        for client in clients:
            client.start()
        for client in clients:
            client.join()

    def decoded_once() -> None:
        with con.cursor() as cursor:
            for path in files:
                part = cursor.read_parquet(path).project(
                    ", ".join(f'"{c}"' for c in union)).to_arrow_table()
                decoded: Any = cursor.from_arrow(part)
                for q in AGGREGATES:
                    decoded.query("t", q.format(t="t")).to_arrow_table()

    try:
        alone = [best(lambda q=q: run(q.format(t="t"))) for q in AGGREGATES]
        touched = [best(lambda c=c: run(touch_sql(c))) for c in QUERY_COLUMNS]
        touched_union = best(lambda: run(touch_sql(union)))
        together = best(at_once)
        decoded = best(decoded_once)
        fused = best(lambda: run(FUSED.format(t="t")))
        check = run(FUSED.format(t="t"))
        first_answer = run(AGGREGATES[0].format(t="t"))
    finally:
        con.close()
    assert sum(check.column("n").to_pylist()) == sum(first_answer.column("n").to_pylist())
    work = [max(0.0, a[1] - t[1]) for a, t in zip(alone, touched, strict=True)]
    return {
        "files": len(files), "threads": threads, "union": union,
        "alone_s": [round(w, 3) for w, _ in alone],
        "alone_cpu_s": [round(c, 3) for _, c in alone],
        "touch_cpu_s": [round(c, 3) for _, c in touched],
        "touch_union_cpu_s": round(touched_union[1], 3),
        "ideal_cpu_s": round(touched_union[1] + sum(work), 3),
        "sum_alone_s": round(sum(w for w, _ in alone), 3),
        "sum_alone_cpu_s": round(sum(c for _, c in alone), 3),
        "together_s": round(together[0], 3), "together_cpu_s": round(together[1], 3),
        "decoded_once_s": round(decoded[0], 3), "decoded_once_cpu_s": round(decoded[1], 3),
        "fused_s": round(fused[0], 3), "fused_cpu_s": round(fused[1], 3),
    }


def touch_sql(columns: Sequence[str]) -> str:
    """The cheapest aggregate that decodes every value of ``columns`` (their minima)."""
    return "SELECT " + ", ".join(f'MIN("{c}")' for c in columns) + " FROM t"


def ceiling_markdown(c: dict[str, Any]) -> list[str]:
    """The ceiling as Markdown lines."""
    lines = [f"DuckDB alone on the published files ({c['files']} files, {c['threads']} threads, "
             "no engine; best of the repeats by CPU):", "",
             "| what | wall (s) | CPU s | CPU / query 1 alone |", "| --- | ---: | ---: | ---: |"]
    first = c["alone_cpu_s"][0]
    rows = [(f"(a) query {i + 1} alone", w, cpu)
            for i, (w, cpu) in enumerate(zip(c["alone_s"], c["alone_cpu_s"], strict=True))]
    rows += [(f"decode query {i + 1}'s columns only ({', '.join(cols)}: their MIN)", None, cpu)
             for i, (cols, cpu) in enumerate(zip(QUERY_COLUMNS, c["touch_cpu_s"], strict=True))]
    rows += [
        (f"decode the union only ({len(c['union'])} columns: their MIN)", None,
         c["touch_union_cpu_s"]),
        ("(b) the four, one after another", c["sum_alone_s"], c["sum_alone_cpu_s"]),
        ("(b') the four at once (four cursors)", c["together_s"], c["together_cpu_s"]),
        ("(c0) ideal sharing: the union decoded once + each query's work beyond decoding its "
         "columns (a - its decode)", None, c["ideal_cpu_s"]),
        ("(c1) the union decoded once per partition into Arrow, each query over it",
         c["decoded_once_s"], c["decoded_once_cpu_s"]),
        ("(c2) one statement, the four side by side (`FUSED`)", c["fused_s"], c["fused_cpu_s"]),
    ]
    for label, wall, cpu in rows:
        shown = "" if wall is None else f"{wall:.3f}"
        lines.append(f"| {label} | {shown} | {cpu:.3f} | {cpu / first:.2f} |")
    return lines

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="an existing data directory")
    parser.add_argument("--table", help="its table (with the synthetic catalog's columns)")
    parser.add_argument("--rows", type=int, help="build a synthetic table of this many rows")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold", action="store_true",
                        help="drop the page cache before every timed run (root only)")
    parser.add_argument("--rows-per-task", type=int,
                        help="EngineOptions.rows_per_task (default: the engine's)")
    parser.add_argument("--step-mb", type=int,
                        help="the shared scans' step size in MB (default: the scheduler's): "
                             "at 20M rows, --rows-per-task 10000000 --step-mb 100 makes one "
                             "scan alone ride in steps, as at a billion rows")
    parser.add_argument("--profile", action="store_true",
                        help="also measure where a shared step's CPU time goes")
    parser.add_argument("--ceiling", action="store_true",
                        help="also measure the four queries through DuckDB alone, and the "
                             "least CPU that sharing their decoding could cost")
    parser.add_argument("--out", type=Path, default=RESULTS / "shared_scan.json")
    args = parser.parse_args()
    if (args.data_dir is None) == (args.rows is None):
        sys.exit("Give either --data-dir DIR --table T, or --rows N for a synthetic table.")
    if args.data_dir is not None and not args.table:
        sys.exit("--data-dir needs --table SCHEMA.TABLE (a table of that directory).")
    if args.cold and os.geteuid() != 0:
        sys.exit("--cold drops the page cache, which needs root; run without it or as root.")
    load = [round(x, 2) for x in os.getloadavg()]
    scratch = Path(tempfile.mkdtemp(prefix="qsa-shared-scan-")) if args.rows else None
    try:
        data_dir = build_synthetic(args.rows, scratch) if scratch else args.data_dir
        table = args.table or SYNTHETIC_TABLE
        measured = measure(data_dir, table, clients=args.clients, repeats=args.repeats,
                           cold=args.cold, rows_per_task=args.rows_per_task,
                           step_mb=args.step_mb)
        profiled = (profile(data_dir, table, clients=args.clients, repeats=args.repeats)
                    if args.profile else None)
        ceiled = (ceiling(data_dir, table, repeats=args.repeats, threads=os.cpu_count() or 2)
                  if args.ceiling else None)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    from engine.api import Engine

    results = {
        "command": " ".join(["python -m bench.bench_shared_scan", *sys.argv[1:]]),
        "rows": args.rows or _rows(data_dir, table, Engine), "cpus": os.cpu_count(),
        "machine": platform.platform(), "cold": args.cold, "repeats": args.repeats,
        "rows_per_task": args.rows_per_task, "load_average_at_start": load,
        "measured": measured,
    }
    if profiled is not None:
        results["profile"] = profiled
    if ceiled is not None:
        results["ceiling"] = ceiled
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))


def _rows(data_dir: Path, table: str, engine_class: Any) -> int:
    engine = engine_class.open(data_dir)
    try:
        return int(engine.table(table).nrows)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
