"""Run every benchmark in turn (``make bench``): ingest, query engine, TAP service.

Each writes its own JSON and Markdown table under ``bench/results/``. They share the
synthetic 20M-row input under ``bench/work/`` (generated once, gitignored).
"""

from __future__ import annotations

import glob
import subprocess
import sys


def _steps() -> list[list[str]]:
    inputs = sorted(glob.glob("bench/work/input/*.parquet"))
    return [
        ["bench.bench_ingest", "--rows", "20000000"],
        ["bench.bench_query", "--rows", "20000000", "--runs", "5"],
        ["bench.bench_tap", "--runs", "20", "--input", *inputs],
    ]


def main() -> int:
    """Run the benchmarks one after the other; stop at the first that fails."""
    for module, *args in _steps():
        print(f"== python -m {module} {' '.join(args)}", flush=True)
        done = subprocess.run([sys.executable, "-m", module, *args], check=False)
        if done.returncode:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
