"""The billion-row run: what notebook 02 measured, plus scans against DuckDB and the disk.

Run notebook 02 at full size first, keeping its table::

    cd notebooks && QSA_NOTEBOOK_ROWS=1e9 QSA_NOTEBOOK_COLD=1 QSA_NOTEBOOK_KEEP=1 \\
        QSA_NOTEBOOK_DATA_DIR=/work/billion jupyter nbconvert --to notebook --execute \\
        --ExecutePreprocessor.timeout=-1 02_billion_rows.ipynb --output ...

then ``python -m bench.bench_billion --data-dir /work/billion`` (as root, to drop the page
cache). It reads the notebook's measurements (``notebook_run.json``: ingest time, peak
resident memory, peak disk, footprint, every query warm and cold) and adds, in the same
hour on the same disk:

* the disk's sequential read rate: the largest partition files read once after the page
  cache is dropped, in 8 MiB blocks;
* the full-scan aggregate through the engine against DuckDB reading our published Parquet
  files directly (the same SQL, the same threads), in turns, cold (page cache dropped
  before each run) and warm; with the bytes of the columns the scan needs (from the
  Parquet footers) it gives each scan's MB/s beside the disk's;
* a shared-scan figure when ``bench/results/shared_scan_billion.json`` exists
  (``python -m bench.bench_shared_scan --data-dir DIR --table sim.object --out ...``).

Results go to ``bench/results/billion.json`` and ``billion.md``, beside the 20M-row runs
with the peers (``ingest.md``, ``scan.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = "sim.object"
SCAN_COLUMNS = ("flags", "mag_r", "mag_g", "dec")
SCAN_SELECT = ("SELECT flags, COUNT(*) AS n, AVG(mag_r) AS mean_r, MIN(mag_g) AS min_g, "
               "MAX(dec) AS max_dec FROM {source} GROUP BY flags ORDER BY flags")
BLOCK = 8 << 20


def drop_page_cache() -> bool:
    """Write back and drop the page cache (root only); False where it cannot."""
    try:
        subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=True,
                       capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def published_files(data_dir: Path) -> tuple[Path, list[Path]]:
    """The table's current version folder and its partition files (margins excluded)."""
    table_dir = data_dir / "tables" / TABLE
    current = (table_dir / "CURRENT").read_text().strip()
    version = table_dir / current if (table_dir / current).is_dir() else Path(current)
    catalogs = [p for p in (version / "catalog").iterdir()
                if (p / "dataset").is_dir() and "arcs" not in p.name]
    files = sorted(p for p in (catalogs[0] / "dataset").rglob("Npix=*") if p.is_file())
    return version, files


def column_bytes(files: list[Path], columns: tuple[str, ...]) -> int:
    """Compressed bytes of ``columns`` in ``files``, from the Parquet footers."""
    import pyarrow.parquet as pq

    total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                if chunk.path_in_schema in columns:
                    total += chunk.total_compressed_size
    return total


def disk_read_rate(files: list[Path], budget_bytes: int) -> dict[str, Any]:
    """MB/s of one sequential read of the largest files, up to ``budget_bytes``, uncached."""
    chosen, size = [], 0
    for path in sorted(files, key=lambda p: p.stat().st_size, reverse=True):
        chosen.append(path)
        size += path.stat().st_size
        if size >= budget_bytes:
            break
    cold = drop_page_cache()
    start = time.perf_counter()
    for path in chosen:
        with open(path, "rb", buffering=0) as f:
            while f.read(BLOCK):
                pass
    seconds = time.perf_counter() - start
    return {"bytes": size, "files": len(chosen), "seconds": round(seconds, 2),
            "mb_per_s": round(size / seconds / 1e6, 1), "page_cache_dropped": cold}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def scans(data_dir: Path, files: list[Path], repeats: int, cold_runs: int) -> dict[str, Any]:
    """The full-scan aggregate: ours and DuckDB on our files, in turns, warm and cold."""
    import duckdb

    import qserv_access

    cat = qserv_access.connect(data_dir)
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count() or 2}")
    file_list = ", ".join(f"'{p}'" for p in files)
    duck_sql = SCAN_SELECT.format(source=f"read_parquet([{file_list}])")
    ours_adql = SCAN_SELECT.format(source=TABLE)
    systems: dict[str, Callable[[], Any]] = {
        "ours": lambda: cat.query(ours_adql),
        "duckdb": lambda: con.sql(duck_sql).df(),
    }
    rows: dict[str, list[tuple[Any, ...]]] = {}

    def canonical(frame: Any) -> list[tuple[Any, ...]]:
        frame = frame.to_pandas() if hasattr(frame, "to_pandas") else frame
        return [(int(r.flags), int(r.n), round(float(r.mean_r), 4), round(float(r.min_g), 4),
                 round(float(r.max_dec), 6)) for r in frame.itertuples()]

    out: dict[str, Any] = {"cold": {k: [] for k in systems}, "warm": {k: [] for k in systems}}
    cold_ok = True
    for i in range(cold_runs):
        for name, fn in (systems.items() if i % 2 == 0 else reversed(systems.items())):
            cold_ok = drop_page_cache() and cold_ok
            seconds, result = timed(fn)
            rows[name] = canonical(result)
            out["cold"][name].append(round(seconds, 2))
            print(f"cold {name}: {seconds:.2f} s", flush=True)
    for i in range(repeats + 1):
        for name, fn in (systems.items() if i % 2 == 0 else reversed(systems.items())):
            seconds, result = timed(fn)
            rows[name] = canonical(result)
            if i:
                out["warm"][name].append(round(seconds, 2))
            print(f"warm {name}: {seconds:.2f} s", flush=True)
    cat.close()
    out["page_cache_dropped"] = cold_ok
    out["same_rows"] = rows["ours"] == rows["duckdb"]
    for phase in ("cold", "warm"):
        med = {k: statistics.median(v) for k, v in out[phase].items() if v}
        if len(med) == 2:
            out[f"{phase}_median_s"] = {k: round(v, 2) for k, v in med.items()}
            out[f"{phase}_ours/duckdb"] = round(med["ours"] / med["duckdb"], 3)
    return out


def latencies(data_dir: Path, rows: int, runs: int) -> dict[str, Any]:
    """Cones, an id lookup and COUNT(*) with this code: warm median, then one cold run."""
    import random

    import qserv_access

    cone = ("SELECT id, ra, dec, mag_r FROM sim.object WHERE 1 = CONTAINS(POINT('ICRS', ra, "
            "dec), CIRCLE('ICRS', 266.4, -28.9, {r}))")
    queries = {"COUNT(*) (metadata)": "SELECT COUNT(*) AS n FROM sim.object",
               "cone 1\u2032": cone.format(r=1 / 60), "cone 1\u00b0": cone.format(r=1.0),
               "id lookup": "SELECT * FROM sim.object WHERE id = {id}"}
    rng = random.Random(7)
    cat = qserv_access.connect(data_dir)
    out: dict[str, Any] = {}
    for label, adql in queries.items():
        def once(adql: str = adql) -> tuple[float, int]:
            seconds, table = timed(lambda: cat.query(adql.format(id=rng.randrange(rows))))
            return seconds, len(table)
        once()
        warm = [once() for _ in range(runs)]
        drop_page_cache()
        cold = once()[0]
        out[label] = {"warm_median_ms": round(statistics.median(t for t, _ in warm) * 1e3, 1),
                      "warm_ms": [round(t * 1e3, 1) for t, _ in warm],
                      "cold_ms": round(cold * 1e3, 1), "rows": warm[-1][1]}
        print(label, out[label], flush=True)
    cat.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3, help="warm runs of each scan")
    parser.add_argument("--cold-runs", type=int, default=2, help="cold runs of each scan")
    parser.add_argument("--disk-sample-gb", type=float, default=4.0)
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=RESULTS / "billion.json")
    args = parser.parse_args()
    run_file = args.data_dir / "notebook_run.json"
    if not run_file.exists():
        sys.exit(f"No {run_file}: run notebook 02 with QSA_NOTEBOOK_KEEP=1 first (see --help).")
    results: dict[str, Any] = {
        "command": " ".join(["python -m bench.bench_billion", *sys.argv[1:]]),
        "label": args.label, "cpus": os.cpu_count(), "machine": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "notebook": json.loads(run_file.read_text()),
    }
    results["queries"] = latencies(args.data_dir, results["notebook"]["rows"], 15)
    _, files = published_files(args.data_dir)
    results["partition_files"] = len(files)
    results["scan_column_bytes"] = column_bytes(files, SCAN_COLUMNS)
    results["disk"] = disk_read_rate(files, int(args.disk_sample_gb * 1e9))
    print(json.dumps(results["disk"]), flush=True)
    results["scan"] = scans(args.data_dir, files, args.repeats, args.cold_runs)
    for phase in ("cold", "warm"):
        med = results["scan"].get(f"{phase}_median_s", {})
        results["scan"][f"{phase}_mb_per_s"] = {
            k: round(results["scan_column_bytes"] / v / 1e6, 1) for k, v in med.items()}
    shared = RESULTS / "shared_scan_billion.json"
    if shared.exists():
        results["shared_scan"] = json.loads(shared.read_text())
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    write_markdown(results, args.out.with_suffix(".md"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def write_markdown(results: dict[str, Any], path: Path) -> None:
    nb, scan, disk = results["notebook"], results["scan"], results["disk"]
    n = nb["rows"]
    lines = [
        f"# {n:,} rows on one {nb['cpus']}-core, {nb['ram_gib']} GiB machine", "",
        "Ingest and queries: `notebooks/02_billion_rows.ipynb` run at "
        f"N = {n:,} (its saved outputs are this run's). Scans against DuckDB and the disk: "
        f"`{results['command']}`, the same hour, on {results['machine']}"
        + (f"; {results['label']}" if results["label"] else "") + ".", "",
        "## Ingest", "",
        "| rows | seconds | rows/s | partitions | peak RSS (kernel + workers) | peak disk "
        "| published B/row | id index B/row | peak disk / (published + index) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {n:,} | {nb['ingest_s']:,.0f} | {nb['rows_per_s']:,.0f} | {nb['partitions']:,} "
        f"| {nb['peak_rss_bytes'] / 2**30:.2f} GiB | {nb['peak_disk_bytes'] / 1e9:,.1f} GB "
        f"| {nb['published_bytes'] / n:.1f} | {nb['id_index_bytes'] / n:.1f} "
        f"| {nb['peak_disk_bytes'] / (nb['published_bytes'] + nb['id_index_bytes']):.2f} |",
        "", "## Queries (engine in the notebook's process; median of warm runs, one cold run "
        "after dropping the page cache)", "",
        "| query | rows | warm median | warm min - max | cold |",
        "| --- | ---: | ---: | ---: | ---: |"]
    for label, t in nb["queries"].items():
        cold = _ms(t["cold"]) if "cold" in t else "-"
        lines.append(f"| {label} | {t['rows']:,} | {_ms(t['warm'])} | "
                     f"{_ms(t['spread'][0])} - {_ms(t['spread'][1])} | {cold} |")
    lines += ["", "The same queries measured again by this benchmark, with the code of its run "
              "(median of 15 warm runs, then one cold run after dropping the page cache):", "",
              "| query | rows | warm median | cold |", "| --- | ---: | ---: | ---: |"]
    for label, t in results["queries"].items():
        lines.append(f"| {label} | {t['rows']:,} | {t['warm_median_ms']:,} ms "
                     f"| {t['cold_ms']:,} ms |")
    lines += [
        "", "## Full scan against DuckDB on our own files, and the disk", "",
        f"Disk: {disk['bytes'] / 1e9:.1f} GB of the largest partition files read once, "
        f"sequentially in 8 MiB blocks, after dropping the page cache: **{disk['mb_per_s']:,} "
        f"MB/s**.", "",
        f"The scan `{SCAN_SELECT.format(source=TABLE)}` needs "
        f"{results['scan_column_bytes'] / 1e9:.2f} GB of compressed column data "
        f"(columns {', '.join(SCAN_COLUMNS)}, from the Parquet footers of "
        f"{results['partition_files']:,} partition files). Ours (ADQL through the engine) "
        "and DuckDB (`read_parquet` over the same files, as many threads as CPUs) in turns:",
        "", "| | ours | DuckDB on our files | ours/DuckDB | ours MB/s | DuckDB MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for phase in ("cold", "warm"):
        med = scan.get(f"{phase}_median_s")
        if med:
            mbs = scan[f"{phase}_mb_per_s"]
            lines.append(f"| {phase} (median of {len(scan[phase]['ours'])}) | {med['ours']} s "
                         f"| {med['duckdb']} s | {scan[f'{phase}_ours/duckdb']} "
                         f"| {mbs['ours']:,} | {mbs['duckdb']:,} |")
    lines += ["", f"Same rows from both: {scan['same_rows']}. Every run: "
              f"{json.dumps({k: scan[k] for k in ('cold', 'warm')})}.", ""]
    shared = results.get("shared_scan")
    if shared:
        lines += ["## Shared scans", "", "From `bench/results/shared_scan_billion.json` "
                  f"(`{shared.get('command', '')}`):", "", "```",
                  json.dumps({k: v for k, v in shared.items() if k != "command"}, indent=1),
                  "```", ""]
    lines += ["## Beside the 20M-row runs with the peers", "",
              "`ingest.md` (ours against hats-import on the same 20M rows: rows/s, peak "
              "memory, peak disk, bytes per row) and `scan.md` (the full scan against DuckDB "
              "over the raw input files) in this folder hold the 20M-row runs; the notebook's "
              "footprint above (37.4 + 8.0 bytes per row) is the one `ingest.md` measured at "
              "20M (37.9 + 8.0), so the layout's size is linear in the rows.", ""]
    lines += [f"Load average at start {results['load_average_at_start']}, at end "
              f"{results['load_average_at_end']} (2 CPUs).", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
