"""``qserv-access serve``: an operator's bad setting is one line naming it, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys


def _serve(tmp_path, **env):
    return subprocess.run(
        [sys.executable, "-m", "qserv_access.cli", "serve", "--data-dir", str(tmp_path),
         "--port", "1"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False)


def test_invalid_setting_is_one_line_naming_the_variable(tmp_path):
    done = _serve(tmp_path, QSA_TAP_SYNC_TIMEOUT="soon")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "QSA_TAP_SYNC_TIMEOUT" in lines[0] and "'soon'" in lines[0]


def test_each_invalid_setting_gets_its_own_line(tmp_path):
    done = _serve(tmp_path, QSA_TAP_SYNC_TIMEOUT="-3", QSA_TAP_DEFAULT_MAXREC="many")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "QSA_TAP_SYNC_TIMEOUT" in done.stderr and "QSA_TAP_DEFAULT_MAXREC" in done.stderr
