"""The ``qserv-access`` command line: ingest, attach, check, query, serve, demo.

Each sub-command lives in its own ``cli_<name>`` module, imported only when used, so
``qserv-access query`` does not pay for the web service's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "ingest": "qserv_access.cli_ingest",
    "attach": "qserv_access.cli_ingest",
    "check": "qserv_access.cli_check",
    "query": "qserv_access.cli_query",
    "serve": "qserv_access.cli_serve",
    "demo": "qserv_access.cli_serve",
}
"""Sub-command name -> module defining ``add_<name>_arguments`` and ``run_<name>``."""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="qserv-access",
        description="Spatially sharded catalogs behind an IVOA TAP/ADQL service.",
    )
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subs.add_parser(name, help=getattr(module, f"HELP_{name.upper()}", None))
        getattr(module, f"add_{name}_arguments")(sub)
        sub.set_defaults(_run=getattr(module, f"run_{name}"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; user errors print one or two lines and exit non-zero."""
    from engine.errors import UserError

    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"qserv-access {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qserv-access {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
