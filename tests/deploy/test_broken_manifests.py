"""Each check fails on a manifest broken the way people break them, with a specific error.

The broken manifests are written to tmp_path and read back through the same loader that
reads deploy/, so what is tested is what a user's edited file would get.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.deploy import consistency
from tests.deploy.manifests import DEPLOY, Doc, RenderError, load
from tests.deploy.validate import checks, main


def written(tmp_path: Path, docs: list[Doc]) -> list[Doc]:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return load(path)


def find(docs: list[Doc], kind: str, prefix: str = "qserv-access") -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(prefix))


def tap(docs: list[Doc]) -> Doc:
    return find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def worker(docs: list[Doc]) -> Doc:
    return find(docs, "DaskCluster")["spec"]["worker"]["spec"]["containers"][0]


def template(docs: list[Doc], name: str) -> Doc:
    return next(t for t in find(docs, "WorkflowTemplate")["spec"]["templates"]
                if t["name"] == name)


def _set_config(docs: list[Doc], key: str, value: str) -> None:
    find(docs, "ConfigMap", "qserv-access-tap-config")["data"][key] = value


def _set_arg(docs: list[Doc], option: str, value: str) -> None:
    args = tap(docs)["args"]
    args[args.index(option) + 1] = value


BREAKAGES: list[tuple[str, Callable[[list[Doc]], object], str, str]] = [
    ("kubernetes schemas", lambda d: find(d, "Deployment")["spec"].update(replica=3),
     "kubernetes schemas", "'replica' was unexpected"),
    ("kubernetes schemas", lambda d: tap(d)["ports"][0].update(containerPort="http"),
     "kubernetes schemas", "'http' is not of type 'integer'"),
    ("DaskCluster unknown key", lambda d: find(d, "DaskCluster")["spec"]["worker"].update(
        replica=2), "dask-kubernetes CRDs", "Additional properties are not allowed ('replica'"),
    ("DaskCluster without scheduler", lambda d: find(d, "DaskCluster")["spec"].pop("scheduler"),
     "dask-kubernetes CRDs", "'scheduler' is a required property"),
    ("Argo unknown key", lambda d: template(d, "validate")["container"].update(comand=["x"]),
     "Argo models", "templates/3/container/comand: unknown field"),
    ("Argo bad type", lambda d: template(d, "ingest").update(retryStrategy="twice"),
     "Argo models", "retryStrategy"),
    ("kind without schema", lambda d: d.append({
        "apiVersion": "cloud.google.com/v1", "kind": "BackendConfig",
        "metadata": {"name": "x"}, "spec": {}}),
     "known kinds", "no schema for cloud.google.com/v1"),
    ("serve option typo", lambda d: tap(d)["args"].__setitem__(0, "serv"),
     "command lines", "invalid choice: 'serv'"),
    ("serve option typo", lambda d: tap(d)["args"].extend(["--prot", "80"]),
     "command lines", "unrecognized arguments: --prot 80"),
    ("check without table", lambda d: template(d, "validate")["container"]["args"].__delitem__(
        slice(3, 5)), "command lines", "the following arguments are required: --table"),
    ("ingest script typo", lambda d: template(d, "ingest")["script"].update(
        source="qserv-access ingest --data-dir /d --tabel t.x f.parquet\n"),
     "command lines", "--tabel"),
    ("dask worker typo", lambda d: worker(d)["args"].__setitem__(2, "--nthread"),
     "command lines", "Got unexpected extra argument"),
    ("benchmark typo", lambda d: template(d, "benchmark")["container"]["args"].__setitem__(
        0, "--datadir"), "command lines", "the following arguments are required: --data-dir"),
    ("not a setting", lambda d: _set_config(d, "QSA_TAP_MAXREC", "10"),
     "settings", "QSA_TAP_MAXREC is not a setting of the service"),
    ("not our prefix", lambda d: _set_config(d, "TAP_SYNC_TIMEOUT", "10"),
     "settings", "TAP_SYNC_TIMEOUT is not a setting"),
    ("setting hidden by a flag", lambda d: _set_config(d, "QSA_TAP_DATA_DIR", "/data"),
     "settings", "QSA_TAP_DATA_DIR is overridden by Deployment/qserv-access-tap container "
     "tap's --data-dir"),
    ("bad setting value", lambda d: _set_config(d, "QSA_TAP_SYNC_TIMEOUT", "soon"),
     "settings", "QSA_TAP_SYNC_TIMEOUT='soon'"),
    ("query memory over the pod's", lambda d: _set_config(d, "QSA_TAP_QUERY_MEMORY_MB", "4096"),
     "settings", "QSA_TAP_QUERY_MEMORY_MB=4096 is not below"),
    ("probe path typo", lambda d: tap(d)["readinessProbe"]["httpGet"].update(
        path="/tap/availabilty"),
     "probes", "readinessProbe path '/tap/availabilty' is not a route"),
    ("probe on another port", lambda d: tap(d)["livenessProbe"]["httpGet"].update(port=8080),
     "probes", "livenessProbe port 8080 is not the port the service listens on (8000)"),
    ("service listens elsewhere", lambda d: _set_arg(d, "--port", "9000"),
     "probes", "listens on --port 9000 but declares container ports [8000]"),
    ("service targetPort", lambda d: find(d, "Service", "qserv-access-tap")["spec"]["ports"][0]
     .update(targetPort=8080), "services", "targetPort 8080 is not a port of the pods"),
    ("service selector", lambda d: find(d, "Service", "qserv-access-tap")["spec"]["selector"]
     .update({"app.kubernetes.io/component": "web"}), "services", "matches no pod template"),
    ("deployment selector", lambda d: find(d, "Deployment")["spec"]["selector"]["matchLabels"]
     .update({"app.kubernetes.io/component": "api"}), "selectors",
     "does not match its pod labels"),
    ("statefulset service", lambda d: find(d, "StatefulSet")["spec"].update(serviceName="db"),
     "selectors", "serviceName 'db' is not a headless Service"),
    ("claim typo", lambda d: find(d, "Deployment")["spec"]["template"]["spec"]["volumes"][0]
     ["persistentVolumeClaim"].update(claimName="qserv-access-catalogue"), "references",
     "claims 'qserv-access-catalogue', which is not defined"),
    ("undefined $(VAR)", lambda d: _set_arg(d, "--jobs-db", "$(JOBS_DB_URL)"), "references",
     "$(JOBS_DB_URL) is not an environment variable of the container"),
    ("secret typo", lambda d: tap(d)["env"][0]["valueFrom"]["secretKeyRef"].update(
        name="qserv-jobs-db"), "references", "reads Secret 'qserv-jobs-db', which is not defined"),
    # kustomize merges a custom resource's lists whole: a patch's container replaced the
    # base's, dropping its volume mounts (and its command), and nothing else complains.
    ("container list replaced by a patch", lambda d: worker(d).pop("volumeMounts"),
     "references", "volume 'catalog' is mounted by no container"),
    ("dask scheduler name", lambda d: _set_arg(d, "--dask", "tcp://dask-scheduler:8786"),
     "dask", "no DaskCluster named 'dask'"),
    ("dask scheduler port", lambda d: _set_arg(d, "--dask",
                                               "tcp://qserv-access-dask-scheduler:8787"),
     "dask", "port 8787 is not the port of DaskCluster/qserv-access-dask's scheduler Service "
     "that leads to the scheduler's --port"),
    ("dask worker memory", lambda d: worker(d)["args"].__setitem__(5, "8GiB"),
     "dask", "--memory-limit is over the container's memory limit"),
    ("images", lambda d: worker(d).update(image="qserv-access:0.0.9"),
     "images", "several qserv-access images"),
    ("shared paths", lambda d: worker(d)["volumeMounts"][0].update(mountPath="/data"),
     "shared paths", "PersistentVolumeClaim/qserv-access-catalog is mounted at several paths"),
    ("DAG task template", lambda d: template(d, "ingest-survey")["dag"]["tasks"][1].update(
        template="ingestt"), "Argo references", "uses template 'ingestt', which is not defined"),
    ("DAG depends", lambda d: template(d, "ingest-survey")["dag"]["tasks"][2].update(
        depends="ingest-files"), "Argo references", "depends on 'ingest-files'"),
    ("undeclared parameter", lambda d: template(d, "validate")["container"]["args"].__setitem__(
        4, "{{workflow.parameters.tabel}}"), "Argo references",
     "{{workflow.parameters.tabel}} is not a parameter"),
    ("workflow without a required parameter", lambda d: d.append({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "w"},
        "spec": {"workflowTemplateRef": {"name": "qserv-access-ingest"},
                 "arguments": {"parameters": [{"name": "table", "value": "a.b"}]}}}),
     "Argo references", "needs parameter 'expected-rows'"),
]


@pytest.mark.parametrize(("label", "breaks", "check", "message"), BREAKAGES,
                         ids=[f"{b[2]}: {b[0]}" for b in BREAKAGES])
def test_check_reports_the_mistake(tmp_path: Path, kind_docs: list[Doc], label: str,
                                   breaks: Callable[[list[Doc]], object], check: str,
                                   message: str) -> None:
    breaks(kind_docs)
    errors = checks()[check](written(tmp_path, kind_docs))
    assert any(message in e for e in errors), f"{label}: expected {message!r} in {errors}"


def test_undocumented_setting_is_reported(tmp_path: Path, kind_docs: list[Doc],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text(consistency.SETTINGS_DOC.read_text().replace("`QSA_TAP_SYNC_TIMEOUT`", ""))
    monkeypatch.setattr(consistency, "SETTINGS_DOC", doc)
    monkeypatch.setattr(consistency, "ROOT", tmp_path)
    errors = checks()["settings"](written(tmp_path, kind_docs))
    assert any("QSA_TAP_SYNC_TIMEOUT is not documented in configuration.md" in e
               for e in errors), errors


def test_broken_kustomization_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(RenderError, match=r"missing\.yaml"):
        load(tmp_path)


def test_overlay_patching_a_custom_resource_by_merge_is_caught(tmp_path: Path) -> None:
    """The mistake this suite was written after: a strategic-merge-style patch of the
    DaskCluster's container list replaces the list (custom resources merge as JSON)."""
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(DEPLOY / "overlays" / "kind", tmp_path)],
        "patches": [{"path": "workers.yaml"}]}))
    (tmp_path / "workers.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kubernetes.dask.org/v1", "kind": "DaskCluster",
        "metadata": {"name": "qserv-access-dask"},
        "spec": {"worker": {"spec": {"containers": [{
            "name": "worker", "image": "qserv-access",
            "resources": {"limits": {"memory": "2Gi"}}}]}}}}))
    errors = checks()["references"](load(tmp_path))
    assert any("volume 'catalog' is mounted by no container" in e for e in errors), errors


def test_command_line_tool_reports_and_exits_non_zero(tmp_path: Path, kind_docs: list[Doc],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(DEPLOY / "overlays" / "kind")]) == 0
    assert "ok: 16 documents pass" in capsys.readouterr().out
    tap(kind_docs)["readinessProbe"]["httpGet"]["path"] = "/health"
    written(tmp_path, kind_docs)
    assert main([str(tmp_path / "broken.yaml")]) == 1
    assert "[probes]" in capsys.readouterr().out


def test_every_check_is_shown_to_fail() -> None:
    """A new check needs a broken manifest above that it catches."""
    assert {check for _, _, check, _ in BREAKAGES} == set(checks())
