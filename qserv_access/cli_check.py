"""``qserv-access check``: validate a published table (files, row counts, sample queries).

Run after an ingest (the Argo workflow's validate step): each check prints one line, ``ok``
or ``FAILED``; the exit status is 0 when all pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

HELP_CHECK = "validate a published table: files, row counts, id index, sample queries"

SAMPLES = 3
"""Rows picked at random for the sample queries."""

CONE_ARCSEC = 1.0
"""Radius of the cone searched around each sampled row's position."""


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``check`` options."""
    parser.add_argument("--data-dir", required=True, help="data directory")
    parser.add_argument("--table", required=True, help="SCHEMA.TABLE to check")
    parser.add_argument("--expect-rows", type=int, help="rows the table must hold")
    parser.add_argument("--samples", type=int, default=SAMPLES,
                        help=f"rows to look up through the engine (default {SAMPLES})")
    parser.add_argument("--seed", type=int, help="seed of the sample (default: random)")


def run_check(args: argparse.Namespace) -> int:
    """Run ``check``: print each check, return 0 when all pass, else 1."""
    from engine.ingest.verify import Check, check_files, open_table

    first, found = open_table(args.data_dir, args.table)
    checks: list[Check] = [first]
    _say(first)
    if found is not None:
        checks += check_files(found, args.expect_rows)
        for check in checks[1:]:
            _say(check)
        if all(c.ok for c in checks if c.name in ("partitions", "margins", "files")):
            for check in _query_checks(args, found):
                checks.append(check)
                _say(check)
        else:
            checks.append(Check("sample queries", False, "skipped: the table's files are "
                                "damaged"))
            _say(checks[-1])
    failed = [c.name for c in checks if not c.ok]
    sys.stdout.write(f"{args.table}: {len(checks) - len(failed)} checks ok"
                     + (f", FAILED: {', '.join(dict.fromkeys(failed))}\n" if failed else "\n"))
    return 1 if failed else 0


def _say(check: Any) -> None:
    sys.stdout.write(check.line() + "\n")
    sys.stdout.flush()


def _query_checks(args: argparse.Namespace, found: Any) -> list[Any]:
    """Ask the engine (as a user would) for the row count and for sampled rows."""
    from engine.ingest.verify import Check, sample_rows
    from qserv_access import connect

    m = found.manifest
    catalog = connect(args.data_dir)
    out = []
    try:
        counted = int(catalog.query(f"SELECT COUNT(*) AS n FROM {m.name}")["n"][0])
        out.append(Check("count query", counted == m.nrows,
                         f"COUNT(*) gives {counted:,}, the manifest records {m.nrows:,}"))
    except Exception as exc:  # noqa: BLE001 - any failure of the engine is reported
        out.append(Check("count query", False, f"{type(exc).__name__}: {exc}"))
    columns = [c for c in (m.id_column, m.ra_column, m.dec_column) if c]
    if not columns:
        return out
    for row in sample_rows(found, columns, args.samples, args.seed):
        if m.id_column:
            out.append(_id_check(catalog, m, row))
        if m.ra_column and m.dec_column:
            out.append(_cone_check(catalog, m, row))
    return out


def _literal(value: Any) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def _id_check(catalog: Any, m: Any, row: dict[str, Any]) -> Any:
    from engine.ingest.verify import Check

    key = row[m.id_column]
    name = f"id lookup {m.id_column}={key}"
    try:
        got = catalog.query(f"SELECT * FROM {m.name} WHERE {m.id_column} = {_literal(key)}")
    except Exception as exc:  # noqa: BLE001 - any failure of the engine is reported
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    same = len(got) == 1 and all(
        _same(got[c][0], row[c]) for c in (m.ra_column, m.dec_column) if c)
    return Check(name, same, f"{len(got)} row(s) returned" + (
        "" if same else f", expected exactly this one: {row}"))


def _cone_check(catalog: Any, m: Any, row: dict[str, Any]) -> Any:
    from engine.ingest.verify import Check

    ra, dec = row[m.ra_column], row[m.dec_column]
    name = f"cone {CONE_ARCSEC:g}\" at ({ra:.6f}, {dec:.6f})"
    radius = CONE_ARCSEC / 3600
    try:
        got = catalog.query(
            f"SELECT {m.ra_column}, {m.dec_column} FROM {m.name} WHERE 1 = CONTAINS("
            f"POINT('ICRS', {m.ra_column}, {m.dec_column}), "
            f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius!r}))")
    except Exception as exc:  # noqa: BLE001 - any failure of the engine is reported
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    hit = any(_same(a, ra) and _same(d, dec)
              for a, d in zip(got[m.ra_column], got[m.dec_column], strict=True))
    return Check(name, hit, f"{len(got)} row(s) within, the sampled row "
                 + ("among them" if hit else "MISSING"))


def _same(a: Any, b: Any) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
    except (TypeError, ValueError):
        return bool(a == b)
