"""Every offline check of a deployment, by name; also a command line for operators who
edit an overlay:

    .venv/bin/python -m tests.deploy.validate deploy/overlays/gke [--external-secret NAME]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.deploy import consistency, schemas
from tests.deploy.commands import in_manifests, parse_error
from tests.deploy.manifests import Doc, RenderError, load

Check = Callable[[list[Doc]], list[str]]


def command_errors(docs: list[Doc]) -> list[str]:
    """Every qserv-access, qserv-access-benchmark and dask command line parses."""
    return [f"{command}: {error}" for command in in_manifests(docs)
            if (error := parse_error(command)) is not None]


def checks(external_secrets: frozenset[str] = frozenset()) -> dict[str, Check]:
    """Name -> check; ``external_secrets`` are Secrets the operator creates, not the render."""
    return {
        "kubernetes schemas": schemas.builtin_errors,
        "dask-kubernetes CRDs": schemas.crd_errors,
        "Argo models": schemas.argo_errors,
        "known kinds": schemas.unknown_kind_errors,
        "command lines": command_errors,
        "settings": consistency.config_errors,
        "probes": consistency.probe_errors,
        "services": consistency.service_errors,
        "selectors": consistency.selector_errors,
        "references": partial(consistency.reference_errors, external_secrets=external_secrets),
        "dask": consistency.dask_errors,
        "images": consistency.image_errors,
        "shared paths": consistency.catalog_path_errors,
        "Argo references": consistency.argo_reference_errors,
    }


def validate(docs: list[Doc], external_secrets: frozenset[str] = frozenset()) -> list[str]:
    """All errors of all checks, each prefixed with its check's name."""
    return [f"[{check}] {error}" for check, run in checks(external_secrets).items()
            for error in run(docs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.deploy.validate",
                                     description="Validate a kustomization or manifests offline.")
    parser.add_argument("paths", nargs="+", type=Path,
                        help="kustomization directories or YAML files, checked together")
    parser.add_argument("--external-secret", action="append", default=[],
                        help="a Secret created outside the manifests (repeatable)")
    args = parser.parse_args(argv)
    try:
        docs = [doc for path in args.paths for doc in load(path)]
    except RenderError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    errors = validate(docs, frozenset(args.external_secret))
    sys.stdout.write("".join(f"{e}\n" for e in errors)
                     or f"ok: {len(docs)} documents pass {len(checks())} checks\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
