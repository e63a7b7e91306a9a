"""End-to-end checks of a deployed TAP service with pyvo (deploy.yml, after the ingest).

    python deploy/e2e/check_tap.py http://127.0.0.1:8000/tap e2e.sky 20000

A synchronous query, an asynchronous job (submitted, waited on, fetched, deleted) and the
VOSI availability; exits non-zero with the failing check's message.
"""

from __future__ import annotations

import sys

import pyvo
import requests


def main(url: str, table: str, rows: int) -> int:
    service = pyvo.dal.TAPService(url)
    availability = requests.get(f"{url}/availability", timeout=30)
    availability.raise_for_status()
    if "<vosi:available>true</vosi:available>" not in availability.text.replace(" ", ""):
        raise SystemExit(f"service not available: {availability.text[:500]}")

    count = service.run_sync(f"SELECT COUNT(*) AS n FROM {table}").to_table()["n"][0]
    if int(count) != rows:
        raise SystemExit(f"sync: {table} holds {count} rows, expected {rows}")
    sys.stdout.write(f"sync: {table} holds {count} rows\n")

    cone = (f"SELECT ra, dec FROM {table} WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), "
            "CIRCLE('ICRS', 180, 0, 5))")
    job = service.submit_job(cone, maxrec=rows)
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"], timeout=300)
    if job.phase != "COMPLETED":
        raise SystemExit(f"async: job {job.job_id} ended {job.phase}: {job.errorsummary}")
    found = len(job.fetch_result().to_table())
    counted = cone.replace("ra, dec FROM", "COUNT(*) AS n FROM", 1)
    expected = service.run_sync(counted).to_table()["n"][0]
    if found != int(expected) or found == 0:
        raise SystemExit(f"async: {found} rows, the same query synchronously counts {expected}")
    job.delete()
    sys.stdout.write(f"async: job returned {found} rows in a 5 degree cone, as the sync count\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
