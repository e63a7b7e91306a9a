"""A script that ingests at its top level (no ``__main__`` guard) fails with advice, never hangs.

Ingest spawns its worker processes, which re-run the script's top level; the ingest called
there used to wait forever for the table lock its parent holds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_unguarded_script_stops_with_the_fix_instead_of_hanging(tmp_path):
    script = tmp_path / "stream.py"
    script.write_text(textwrap.dedent(f"""
        import pyarrow as pa
        import qserv_access
        batch = pa.record_batch({{"id": pa.array(range(3000)),
                                 "ra": pa.array([i * 0.1 for i in range(3000)]),
                                 "dec": pa.array([0.0] * 3000)}})
        qserv_access.ingest({str(tmp_path / "data")!r}, "sim.stream", [batch], ra="ra",
                            dec="dec", id_column="id", workers=2)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr
    assert "waiting for another ingest" not in done.stderr
