"""The manifests of deploy/ pass every offline check, and say what the deployment needs."""

from __future__ import annotations

import pytest

from tests.deploy.commands import in_manifests
from tests.deploy.conftest import TARGETS
from tests.deploy.manifests import Doc, pods
from tests.deploy.validate import checks

CHECKS = list(checks())
RENDERS = [*TARGETS, "e2e"]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("target", RENDERS)
def test_render_passes(rendered: dict[str, list[Doc]], target: str, check: str) -> None:
    external = TARGETS.get(target, (None, frozenset()))[1]
    errors = checks(external)[check](rendered[target])
    assert errors == [], "\n".join(errors)


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(found) == 1, f"expected one {kind} {name}*, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("target", list(TARGETS))
def test_render_holds_the_deployment(rendered: dict[str, list[Doc]], target: str) -> None:
    docs = rendered[target]
    tap = _one(docs, "Deployment", "qserv-access-tap")
    assert tap["spec"]["replicas"] >= 2
    container = tap["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/tap/availability"
    assert container["livenessProbe"]["httpGet"]["path"] == "/tap/availability"
    assert container["resources"]["limits"]["memory"]
    for claim in ("qserv-access-catalog", "qserv-access-results"):
        assert _one(docs, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == [
            "ReadWriteMany"]
    db = _one(docs, "StatefulSet", "qserv-access-jobs-db")
    assert db["spec"]["template"]["spec"]["containers"][0]["image"].startswith("postgres:")
    assert _one(docs, "DaskCluster", "qserv-access-dask")["spec"]["worker"]["replicas"] >= 1
    ingest = _one(docs, "WorkflowTemplate", "qserv-access-ingest")
    tasks = ingest["spec"]["templates"][0]["dag"]["tasks"]
    assert [t["name"] for t in tasks] == ["check-inputs", "ingest", "validate", "benchmark"]


def test_checks_see_every_command(rendered: dict[str, list[Doc]]) -> None:
    """The command-line check is not vacuous: it finds each program the deployment runs."""
    found = {(c.program, c.argv[0]) for c in in_manifests(rendered["kind"])}
    assert found == {("qserv-access", "serve"), ("qserv-access", "ingest"),
                     ("qserv-access", "check"), ("qserv-access-benchmark", "--data-dir"),
                     ("dask", "scheduler"), ("dask", "worker")}
    ingest = [c.argv for c in in_manifests(rendered["kind"]) if c.argv[:1] == ("ingest",)]
    assert any("--check" in argv for argv in ingest)
    assert any("--dask" in argv for argv in ingest)


def test_kind_runs_the_local_image(rendered: dict[str, list[Doc]]) -> None:
    images = {(c["image"], c.get("imagePullPolicy")) for p in pods(rendered["kind"])
              for c in p.containers if "postgres" not in c["image"]}
    assert {image for image, _ in images} == {"qserv-access:dev"}
    workloads = [p for p in pods(rendered["kind"]) if "template" not in p.owner]
    assert all(c.get("imagePullPolicy") == "IfNotPresent"
               for p in workloads for c in p.containers)


def test_gke_uses_filestore_and_a_load_balancer(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["gke"]
    for claim in ("qserv-access-catalog", "qserv-access-results"):
        assert _one(docs, "PersistentVolumeClaim", claim)["spec"]["storageClassName"] == \
            "standard-rwx"
    assert _one(docs, "Ingress", "qserv-access-tap")["spec"]["ingressClassName"] == "gce"
    assert _one(docs, "Deployment", "qserv-access-tap")["spec"]["replicas"] >= 3
