"""Renders shared by the deploy tests: kustomize runs once per target per session."""

from __future__ import annotations

import copy

import pytest

from tests.deploy.manifests import DEPLOY, Doc, load

JOBS_DB_SECRET = frozenset({"qserv-access-jobs-db"})
TARGETS = {
    "base": (DEPLOY / "base", JOBS_DB_SECRET),
    "kind": (DEPLOY / "overlays" / "kind", frozenset()),
    "gke": (DEPLOY / "overlays" / "gke", JOBS_DB_SECRET),
}
"""Render -> (directory, Secrets the operator creates by hand: docs/deploy.md)."""


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Doc]]:
    """Each target rendered; "e2e" is the kind overlay with CI's end-to-end objects."""
    out = {target: load(path) for target, (path, _) in TARGETS.items()}
    out["e2e"] = out["kind"] + load(DEPLOY / "e2e")
    return out


@pytest.fixture
def kind_docs(rendered: dict[str, list[Doc]]) -> list[Doc]:
    """A private copy of the kind render, to break."""
    return copy.deepcopy(rendered["kind"])
