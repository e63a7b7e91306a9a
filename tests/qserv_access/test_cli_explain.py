"""``qserv-access query --explain`` says how a query runs, and why when it runs as one task."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def explain(data_dir: Path, adql: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "qserv_access.cli", "query", "--data-dir",
                           str(data_dir), "--explain", adql],
                          capture_output=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode().splitlines()


def test_explain_says_why_a_query_runs_as_one_task(sky_dir):
    lines = explain(sky_dir, "SELECT id FROM sky.object WHERE id < 1100 UNION "
                             "SELECT id FROM sky.object WHERE id > 14000")
    assert lines[0] == "mode: single"
    assert lines[1].startswith("why single: a set operation")


def test_explain_of_a_split_query_gives_no_reason(sky_dir):
    lines = explain(sky_dir, "SELECT COUNT(flags) AS n FROM sky.object")
    assert lines[0] == "mode: chunked"
    assert not any(line.startswith("why single") for line in lines)
