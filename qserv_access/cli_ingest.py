"""``qserv-access ingest`` and ``qserv-access attach``: build and register catalogs."""

from __future__ import annotations

import argparse
import sys
import time

HELP_INGEST = "ingest Parquet/CSV/FITS/VOTable files into a table (appends as a new version)"
HELP_ATTACH = "register an existing HATS catalog or collection as a table, without copying"


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``ingest`` options."""
    parser.add_argument("--data-dir", required=True, help="data directory")
    parser.add_argument("--table", required=True, help="SCHEMA.TABLE, e.g. dp1.object")
    parser.add_argument("--ra", help="right ascension column (degrees): positional table")
    parser.add_argument("--dec", help="declination column (degrees)")
    parser.add_argument("--id", dest="id_column", help="unique id column (indexed)")
    parser.add_argument("--director", help="director table SCHEMA.TABLE: makes a child table")
    parser.add_argument("--director-key", help="column holding the director's id")
    parser.add_argument("--schema", dest="schema_yaml", help="Felis YAML with column metadata")
    parser.add_argument("--margin-arcsec", type=float, default=10.0,
                        help="margin radius around each partition (default 10)")
    parser.add_argument("--max-rows-per-partition", type=int, default=1_000_000,
                        help="adaptive partitioning threshold (default 1000000)")
    parser.add_argument("--allow-orphans", action="store_true",
                        help="drop child rows whose director is unknown instead of failing")
    parser.add_argument("--workers", type=int, help="worker processes (default: CPUs)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run the partitioning on this dask scheduler's workers "
                             "(tcp://HOST:PORT); they must see the data directory and the FILEs at "
                             "the same paths")
    parser.add_argument("--check", action="store_true",
                        help="only validate the inputs (readable, columns, positions, table "
                             "name, disk room): print a summary, write nothing; exit 0 or 2")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only when it is a terminal)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="input files")


def run_ingest(args: argparse.Namespace) -> int:
    """Run ``ingest`` and print a one-line summary (``--check``: a summary of the inputs)."""
    from engine.ingest.api import ingest_files

    if args.check:
        return _run_check(args)
    start = time.monotonic()
    manifest = ingest_files(
        args.data_dir, args.table, args.files, ra=args.ra, dec=args.dec,
        id_column=args.id_column, director=args.director, director_key=args.director_key,
        schema_yaml=args.schema_yaml, margin_arcsec=args.margin_arcsec,
        max_rows_per_partition=args.max_rows_per_partition, allow_orphans=args.allow_orphans,
        workers=args.workers,
        progress="always" if args.progress else args.progress is None, dask=args.dask,
    )
    seconds = time.monotonic() - start
    margin = sum(p.margin_nrows for p in manifest.partitions)
    parts = f", {len(manifest.partitions)} partitions" if manifest.partitions else ""
    extra = f", {margin:,} margin rows" if margin else ""
    orphans = manifest.extra.get("orphans_dropped", 0)
    dropped = f", {orphans:,} orphan rows dropped" if orphans else ""
    sys.stdout.write(
        f"{manifest.name} v{manifest.version} ({manifest.kind}): {manifest.nrows:,} rows"
        f"{parts}{extra}{dropped} in {seconds:.1f} s "
        f"({manifest.nrows / max(seconds, 1e-9):,.0f} rows/s)\n"
    )
    return 0


def _run_check(args: argparse.Namespace) -> int:
    """``ingest --check``: validate the inputs without writing (errors exit 2, in main)."""
    from engine.ingest.preflight import check_inputs

    report = check_inputs(
        args.data_dir, args.table, args.files, ra=args.ra, dec=args.dec,
        id_column=args.id_column, director=args.director, director_key=args.director_key,
        schema_yaml=args.schema_yaml)
    sys.stdout.write(report.summary() + "\n")
    return 0


def add_attach_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``attach`` options."""
    parser.add_argument("--data-dir", required=True, help="data directory")
    parser.add_argument("--table", required=True, help="SCHEMA.TABLE to register it as")
    parser.add_argument("hats_dir", metavar="HATS_DIR", help="HATS catalog or collection")


def run_attach(args: argparse.Namespace) -> int:
    """Run ``attach`` and print a one-line summary."""
    from engine.ingest.api import attach_hats

    manifest = attach_hats(args.data_dir, args.table, args.hats_dir)
    margin = "with" if any(p.margin_path for p in manifest.partitions) else "without"
    sys.stdout.write(
        f"{manifest.name} v{manifest.version}: attached {manifest.nrows:,} rows in "
        f"{len(manifest.partitions)} partitions {margin} margin from {args.hats_dir}\n"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``ingest``/``attach`` alone (``python -m qserv_access.cli_ingest``), like cli.main."""
    from engine.errors import UserError

    parser = argparse.ArgumentParser(prog="qserv-access")
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add, run, text in (("ingest", add_ingest_arguments, run_ingest, HELP_INGEST),
                                 ("attach", add_attach_arguments, run_attach, HELP_ATTACH)):
        sub = subs.add_parser(name, help=text)
        add(sub)
        sub.set_defaults(_run=run)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        sys.stderr.write(f"qserv-access {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"qserv-access {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
