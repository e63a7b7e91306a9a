"""Schema validation, offline: built-in kinds against the Kubernetes JSON schemas
(kubernetes-validate), DaskClusters against the CRDs shipped in the dask-kubernetes wheel,
Argo Workflows objects against hera's models (generated from Argo's OpenAPI spec).

Every function returns a list of error lines (empty when valid); unknown keys are errors.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.deploy.manifests import Doc, name

K8S_VERSION = "1.33.0"
"""Kubernetes version whose schemas the built-in kinds are checked against."""

BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling"}
ARGO_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}


def is_builtin(doc: Doc) -> bool:
    group = str(doc.get("apiVersion", "")).rpartition("/")[0]
    return group in BUILTIN_GROUPS or group.endswith(".k8s.io")


def builtin_errors(docs: list[Doc]) -> list[str]:
    """Built-in kinds against the Kubernetes JSON schemas, strictly."""
    errors = []
    for doc in docs:
        if not is_builtin(doc):
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            errors.append(f"{name(doc)}: {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{name(doc)}: {exc}")
    return errors


# --- custom resources described by a CRD --------------------------------------------------

def dask_crd_dir() -> Path:
    """The CRDs inside the installed dask-kubernetes package (found without importing it)."""
    spec = importlib.util.find_spec("dask_kubernetes")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("dask-kubernetes is not installed: `make` installs it "
                                "(pip install --no-deps dask-kubernetes)")
    return (Path(spec.origin).parent / "operator" / "deployment" / "helm"
            / "dask-kubernetes-operator" / "crds")


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON schema, from the dask-kubernetes CRDs."""
    out = {}
    for path in sorted(dask_crd_dir().glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = to_json_schema(version["schema"]["openAPIV3Schema"])
            schema.setdefault("properties", {}).update(
                {"apiVersion": {}, "kind": {}, "metadata": {}})
            out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return out


def to_json_schema(node: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema; objects listing properties are closed."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items()
           if not key.startswith("x-kubernetes-") and key not in ("nullable", "properties")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    if "properties" in node:
        out["properties"] = {k: to_json_schema(v) for k, v in node["properties"].items()}
    return out


def crd_errors(docs: list[Doc]) -> list[str]:
    """Resources of the dask-kubernetes kinds against their CRD's schema."""
    schemas = crd_schemas()
    errors = []
    for doc in docs:
        schema = schemas.get((doc.get("apiVersion", ""), doc.get("kind", "")))
        if schema is None:
            continue
        for err in jsonschema.Draft7Validator(schema).iter_errors(doc):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            errors.append(f"{name(doc)}: {where}: {err.message[:300]}")
    return sorted(errors)


# --- Argo Workflows -----------------------------------------------------------------------

def argo_errors(docs: list[Doc]) -> list[str]:
    """Argo objects against hera's models; keys the models drop are reported as unknown."""
    from hera.workflows import models
    from pydantic import ValidationError

    errors = []
    for doc in docs:
        if not str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
            continue
        model = getattr(models, doc.get("kind", ""), None) if doc.get("kind") in ARGO_KINDS \
            else None
        if model is None:
            errors.append(f"{name(doc)}: no Argo model for kind {doc.get('kind')!r}")
            continue
        try:
            parsed = model.model_validate(doc)
        except ValidationError as exc:
            errors += [f"{name(doc)}: {'/'.join(str(p) for p in e['loc'])}: {e['msg']}"
                       for e in exc.errors()]
            continue
        dumped = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
        errors += [f"{name(doc)}: {path}: unknown field" for path in _dropped(doc, dumped)]
    return errors


def _dropped(given: Any, kept: Any, path: str = "") -> list[str]:
    """Keys of ``given`` that the model round trip did not keep."""
    if isinstance(given, dict) and isinstance(kept, dict):
        return [p for key, value in given.items()
                for p in ([f"{path}/{key}"] if key not in kept
                          else _dropped(value, kept[key], f"{path}/{key}"))]
    if isinstance(given, list) and isinstance(kept, list):
        return [p for i, (a, b) in enumerate(zip(given, kept, strict=False))
                for p in _dropped(a, b, f"{path}/{i}")]
    return []


def unknown_kind_errors(docs: list[Doc]) -> list[str]:
    """Every document is of a kind some validator knows."""
    known = set(crd_schemas())
    return [f"{name(doc)}: no schema for {doc.get('apiVersion')} {doc.get('kind')}; "
            "only built-in kinds, dask-kubernetes kinds and Argo kinds are validated"
            for doc in docs
            if not is_builtin(doc)
            and (doc.get("apiVersion"), doc.get("kind")) not in known
            and not (str(doc.get("apiVersion", "")).startswith("argoproj.io/")
                     and doc.get("kind") in ARGO_KINDS)]
