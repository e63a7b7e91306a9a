"""``qserv-access serve`` and ``qserv-access demo``: run the TAP service with uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

    from tap_service.config import TapSettings

HELP_SERVE = "run the IVOA TAP service over a data directory"
HELP_DEMO = "build the demo catalogs (Hipparcos, Gaia DR3 bright, OpenNGC) if absent and serve them"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``serve``."""
    parser.add_argument("--data-dir", required=True, type=Path, help="data directory to serve")
    _add_common(parser)
    parser.add_argument("--dask", metavar="ADDRESS", help="dask scheduler to run queries on")
    parser.add_argument("--jobs-db", metavar="URL",
                        help="SQLAlchemy URL of the job database (default: SQLite in DIR/.tap)")
    parser.add_argument("--tokens", metavar="FILE", type=Path,
                        help="file of 'TOKEN OWNER' lines; requires bearer tokens when given")
    parser.add_argument("--workers", type=_workers, default=1, metavar="N",
                        help="service processes answering on the one port, sharing the job "
                        "database (SQLite in DIR/.tap or --jobs-db) and the query memory "
                        "budget (default: 1)")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.add_argument("--access-log", action="store_true",
                        help="log every request (off by default: it costs latency)")


def _serve(data_dir: Path, args: argparse.Namespace, *, banner: str = "") -> int:
    import uvicorn

    from tap_service.app import create_app
    from tap_service.config import TapSettings

    overrides: dict[str, object] = {"data_dir": data_dir}
    for option, field in (("dask", "dask_address"), ("jobs_db", "jobs_db"),
                          ("tokens", "tokens_file")):
        value = getattr(args, option, None)
        if value is not None:
            overrides[field] = value
    from pydantic import ValidationError

    try:
        settings = TapSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        sys.stderr.write(_settings_error(exc) + "\n")
        return 2
    workers = getattr(args, "workers", 1)
    if banner:
        sys.stdout.write(banner + "\n")
        sys.stdout.flush()
    if workers > 1:
        # Each process builds its app from the environment, which it inherits from here.
        os.environ.update(_worker_environment(settings, overrides, workers))
        uvicorn.run("tap_service.app:create_app", factory=True, workers=workers,
                    host=args.host, port=args.port, log_level=args.log_level,
                    access_log=args.access_log)
        return 0
    uvicorn.run(create_app(settings), host=args.host, port=args.port,
                log_level=args.log_level, access_log=args.access_log)
    return 0


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"--workers takes a whole number of processes, 1 or more (given {text!r})")
    return value


def _worker_environment(settings: TapSettings, overrides: dict[str, object],
                        workers: int) -> dict[str, str]:
    """The QSA_TAP_ variables that give every worker process the settings given here.

    The query memory budget (a quarter of the machine's unless set) is shared out, so
    that the processes together stay within it.
    """
    env = {f"QSA_TAP_{name.upper()}": str(value) for name, value in overrides.items()}
    env["QSA_TAP_PROCESSES"] = str(workers)  # each sizes its sync slots and engine threads
    if settings.query_memory_mb is None:
        from tap_service.app import memory_share_mb

        env["QSA_TAP_QUERY_MEMORY_MB"] = str(memory_share_mb(workers))
    return env


def _settings_error(exc: ValidationError) -> str:
    """One line per invalid setting, named as the operator sets it (QSA_TAP_NAME)."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        given = error.get("input")
        shown = "" if isinstance(given, dict) else f" (given {given!r})"
        lines.append(f"qserv-access serve: error: setting QSA_TAP_{field.upper()}{shown}: "
                     f"{error['msg']}; see docs/configuration.md.")
    return "\n".join(lines)


def run_serve(args: argparse.Namespace) -> int:
    """Run the service until interrupted."""
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        sys.stderr.write(f"qserv-access serve: error: data directory {data_dir} does not exist; "
                         "create it with 'qserv-access ingest' or try 'qserv-access demo'.\n")
        return 2
    url = f"http://{args.host}:{args.port}/tap"
    return _serve(data_dir, args, banner=f"TAP service at {url}")


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``demo``."""
    parser.add_argument("--data-dir", type=Path, default=Path("demo-data"),
                        help="where the demo catalogs are built (default: ./demo-data)")
    _add_common(parser)


def run_demo(args: argparse.Namespace) -> int:
    """Build the demo catalogs if needed, then serve them and print how to connect."""
    from qserv_access.demo_data import build_demo, demo_is_built

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not demo_is_built(data_dir):
        sys.stdout.write(f"building the demo catalogs in {data_dir} (downloads from PyPI) ...\n")
        build_demo(data_dir, log=lambda line: sys.stdout.write(line + "\n"))
    url = f"http://{args.host}:{args.port}/tap"
    banner = (
        f"\nTAP service at {url}\n"
        "  pyvo:   import pyvo; tap = pyvo.dal.TAPService("
        f"'{url}')\n"
        "          tap.run_sync(\"SELECT TOP 10 * FROM hip.main\").to_table()\n"
        f"  TOPCAT: VO > Table Access Protocol (TAP) Query > TAP URL: {url}\n"
        "  tables: hip.main (Hipparcos 2), gaia.dr3_bright (Gaia DR3 G<10), "
        "ngc.objects (OpenNGC)\n"
    )
    return _serve(data_dir, args, banner=banner)


def main(argv: list[str] | None = None) -> int:
    """``python -m qserv_access.cli_serve --data-dir DIR ...``: serve without the other commands."""
    parser = argparse.ArgumentParser(prog="qserv-access serve", description=HELP_SERVE)
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
