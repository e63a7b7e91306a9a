"""Checks of what the schemas cannot see: that the manifests agree with each other and with
this project (its settings, its command line, its routes).

Each check takes the documents of one render and returns error lines (empty when fine).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.commands import CommandLine, in_manifests
from tests.deploy.manifests import ROOT, Doc, Pod, name, pods

SETTINGS_DOC = ROOT / "docs" / "configuration.md"
SETTING_PREFIX = "QSA_TAP_"
SERVE_FLAGS = {"data_dir": "data_dir", "dask": "dask_address", "jobs_db": "jobs_db",
               "tokens": "tokens_file"}
"""``serve`` options that override a setting (qserv_access/cli_serve.py): option -> field."""
DASK_ADDRESS = re.compile(r"tcp://([a-z0-9.-]+?)-scheduler(?:\.[a-z0-9.-]+)?:(\d+)")
MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10,
                "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "KiB": 2**10, "MiB": 2**20,
                "GiB": 2**30, "TiB": 2**40, "kB": 10**3, "MB": 10**6, "GB": 10**9}


def _of_kind(docs: list[Doc], *kinds: str) -> list[Doc]:
    return [d for d in docs if d.get("kind") in kinds]


def _serve_commands(docs: list[Doc]) -> Iterator[tuple[Pod, Doc, Any]]:
    """(pod, container, parsed arguments) of each container running ``qserv-access serve``."""
    from qserv_access.cli import build_parser

    parser = build_parser()
    for pod in pods(docs):
        for container in pod.spec.get("containers") or []:
            argv = list(container.get("command") or []) + list(container.get("args") or [])
            if argv[:2] == ["qserv-access", "serve"]:
                yield pod, container, parser.parse_args(argv[1:])


# --- settings -----------------------------------------------------------------------------

def config_errors(docs: list[Doc]) -> list[str]:
    """The service's ConfigMaps hold documented settings only, with values the service accepts,
    none of them hidden by a command-line option, and a query memory under the pod's limit."""
    from pydantic import ValidationError

    from tap_service.config import TapSettings

    documented = SETTINGS_DOC.read_text()
    maps = {(d.get("metadata") or {}).get("name"): d.get("data") or {}
            for d in _of_kind(docs, "ConfigMap")}
    errors = []
    for pod, container, args in _serve_commands(docs):
        where = f"{pod.owner} container {container['name']}"
        for ref in container.get("envFrom") or []:
            cm = (ref.get("configMapRef") or {}).get("name")
            if cm is None or cm not in maps:
                continue
            values: dict[str, str] = {}
            for key, value in maps[cm].items():
                field = key[len(SETTING_PREFIX):].lower()
                if not key.startswith(SETTING_PREFIX) or field not in TapSettings.model_fields:
                    errors.append(f"ConfigMap/{cm}: {key} is not a setting of the service "
                                  f"(tap_service/config.py)")
                elif f"`{key}`" not in documented:
                    errors.append(f"ConfigMap/{cm}: {key} is not documented in "
                                  f"{SETTINGS_DOC.relative_to(ROOT)}")
                else:
                    values[field] = value
            for option, field in SERVE_FLAGS.items():
                if field in values and getattr(args, option, None) is not None:
                    errors.append(f"ConfigMap/{cm}: {SETTING_PREFIX}{field.upper()} is "
                                  f"overridden by {where}'s --{option.replace('_', '-')}")
            try:
                settings = TapSettings(**values)
            except ValidationError as exc:
                errors += [f"ConfigMap/{cm}: {SETTING_PREFIX}{str(e['loc'][0]).upper()}"
                           f"={values.get(str(e['loc'][0]))!r}: {e['msg']}"
                           for e in exc.errors() if e["loc"]] or [f"ConfigMap/{cm}: {exc}"]
                continue
            limit = _memory_limit(container)
            if settings.query_memory_mb and limit and settings.query_memory_mb << 20 >= limit:
                errors.append(f"ConfigMap/{cm}: QSA_TAP_QUERY_MEMORY_MB={settings.query_memory_mb}"
                              f" is not below {where}'s memory limit")
    return errors


def _bytes(quantity: str) -> int:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity).strip())
    if match is None or match.group(2) not in MEMORY_UNITS:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(float(match.group(1)) * MEMORY_UNITS[match.group(2)])


def _memory_limit(container: Doc) -> int | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return _bytes(limit) if limit is not None else None


# --- probes, ports, selectors -------------------------------------------------------------

def answers_get(path: str) -> bool:
    """Whether the TAP application has a route for ``GET path`` (matched by its own router,
    without starting it)."""
    from starlette.routing import Match

    from tap_service.app import create_app
    from tap_service.config import TapSettings

    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "path_params": {},
             "headers": [], "query_string": b""}
    return any(route.matches(scope)[0] == Match.FULL
               for route in create_app(TapSettings()).router.routes)


def probe_errors(docs: list[Doc]) -> list[str]:
    """The service's probes ask for a route it has, on the port it listens on."""
    errors = []
    for pod, container, args in _serve_commands(docs):
        where = f"{pod.owner} container {container['name']}"
        ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        if args.port not in ports.values():
            errors.append(f"{where}: listens on --port {args.port} but declares container ports "
                          f"{sorted(ports.values())}")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            http = (container.get(probe) or {}).get("httpGet")
            if http is None:
                continue
            if not answers_get(str(http.get("path"))):
                errors.append(f"{where}: {probe} path {http.get('path')!r} is not a route of "
                              f"the service (e.g. /tap/availability)")
            port = ports.get(http.get("port"), http.get("port"))
            if port != args.port:
                errors.append(f"{where}: {probe} port {http.get('port')!r} is not the port "
                              f"the service listens on ({args.port})")
    return errors


def service_errors(docs: list[Doc]) -> list[str]:
    """Each Service selects pods, and its targetPorts are ports those pods declare."""
    all_pods = list(pods(docs))
    errors = []
    for svc in _of_kind(docs, "Service"):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if not selector:
            continue
        chosen = [p for p in all_pods if selector.items() <= p.labels.items()]
        if not chosen:
            errors.append(f"{name(svc)}: selector {selector} matches no pod template")
            continue
        declared = {(port.get("name"), port.get("containerPort"))
                    for p in chosen for c in p.spec.get("containers") or []
                    for port in c.get("ports") or []}
        for port in (svc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if not any(target in pair for pair in declared):
                errors.append(f"{name(svc)}: targetPort {target!r} is not a port of the pods "
                              f"it selects ({', '.join(p.owner for p in chosen)}: "
                              f"{sorted(declared, key=str)})")
    return errors


def selector_errors(docs: list[Doc]) -> list[str]:
    """Workload selectors match their own pod template; StatefulSets have their headless
    Service."""
    headless = {(s.get("metadata") or {}).get("name") for s in _of_kind(docs, "Service")
                if (s.get("spec") or {}).get("clusterIP") == "None"}
    errors = []
    for doc in _of_kind(docs, "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        spec = doc.get("spec") or {}
        wanted = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not wanted.items() <= labels.items():
            errors.append(f"{name(doc)}: selector {wanted} does not match its pod labels "
                          f"{labels}")
        if doc["kind"] == "StatefulSet" and spec.get("serviceName") not in headless:
            errors.append(f"{name(doc)}: serviceName {spec.get('serviceName')!r} is not a "
                          "headless Service of this deployment")
    return errors


# --- references between objects -----------------------------------------------------------

def reference_errors(docs: list[Doc], external_secrets: frozenset[str] = frozenset()) -> list[str]:
    """Claims, ConfigMaps, Secrets, volumes, $(VAR)s and Ingress backends exist."""
    names = {(d.get("kind"), (d.get("metadata") or {}).get("name")) for d in docs}
    errors = []
    for pod in pods(docs):
        volumes = {v.get("name"): v for v in pod.spec.get("volumes") or []}
        mounted = set()
        for volume in volumes.values():
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and ("PersistentVolumeClaim", claim) not in names:
                errors.append(f"{pod.owner}: volume {volume['name']} claims "
                              f"{claim!r}, which is not defined")
        for container in pod.containers:
            where = f"{pod.owner} container {container.get('name')}"
            for mount in container.get("volumeMounts") or []:
                mounted.add(mount.get("name"))
                if mount.get("name") not in volumes and mount.get("name") not in _claim_templates(
                        docs, pod):
                    errors.append(f"{where}: mounts {mount.get('name')!r}, not a volume of "
                                  "the pod")
            errors += _env_errors(container, where, names, external_secrets, pod.env_given)
        errors += [f"{pod.owner}: volume {v!r} is mounted by no container"
                   for v in volumes if v not in mounted]
    for ingress in _of_kind(docs, "Ingress"):
        backend = ((ingress.get("spec") or {}).get("defaultBackend") or {}).get("service") or {}
        if backend and ("Service", backend.get("name")) not in names:
            errors.append(f"{name(ingress)}: backend Service {backend.get('name')!r} is not "
                          "defined")
    return errors


def _claim_templates(docs: list[Doc], pod: Pod) -> set[str]:
    owner = next((d for d in docs if name(d) == pod.owner), None)
    templates = ((owner or {}).get("spec") or {}).get("volumeClaimTemplates") or []
    return {(t.get("metadata") or {}).get("name") for t in templates}


def _env_errors(container: Doc, where: str, names: set[tuple[Any, Any]],
                external_secrets: frozenset[str], given: set[str]) -> list[str]:
    errors = []
    env = {e.get("name") for e in container.get("env") or []} | given
    for item in container.get("env") or []:
        source = item.get("valueFrom") or {}
        for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
            ref = (source.get(key) or {}).get("name")
            if ref and (kind, ref) not in names and ref not in external_secrets:
                errors.append(f"{where}: env {item.get('name')} reads {kind} {ref!r}, which "
                              "is not defined")
    for item in container.get("envFrom") or []:
        ref = (item.get("configMapRef") or {}).get("name")
        if ref and ("ConfigMap", ref) not in names:
            errors.append(f"{where}: envFrom ConfigMap {ref!r} is not defined")
    argv = " ".join(str(a) for a in (container.get("command") or []) + (container.get("args")
                                                                         or []))
    errors += [f"{where}: $({var}) is not an environment variable of the container, so "
               "Kubernetes would pass it literally"
               for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", argv) if var not in env]
    return errors


# --- dask, images, shared paths -----------------------------------------------------------

def dask_errors(docs: list[Doc]) -> list[str]:
    """Every tcp://NAME-scheduler:PORT names a DaskCluster here and its scheduler port; each
    worker's --memory-limit fits in its container."""
    clusters = {(d.get("metadata") or {}).get("name"): d for d in _of_kind(docs, "DaskCluster")}
    errors = []
    for address in sorted(set(DASK_ADDRESS.finditer(_all_strings(docs)).__iter__()),
                          key=lambda m: m.group(0)):
        cluster = clusters.get(address.group(1))
        if cluster is None:
            errors.append(f"{address.group(0)}: no DaskCluster named {address.group(1)!r} "
                          f"(defined: {sorted(clusters)})")
            continue
        if int(address.group(2)) not in _scheduler_comm_ports(cluster):
            errors.append(f"{address.group(0)}: port {address.group(2)} is not the port of "
                          f"DaskCluster/{address.group(1)}'s scheduler Service that leads to "
                          "the scheduler's --port")
    for command in in_manifests(docs):
        errors += _worker_memory_errors(command, docs)
    return errors


def _scheduler_comm_ports(cluster: Doc) -> set[int]:
    """Ports of the scheduler's Service whose target is where ``dask scheduler`` listens."""
    scheduler = cluster["spec"].get("scheduler") or {}
    container = ((scheduler.get("spec") or {}).get("containers") or [{}])[0]
    args = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    listens = int(args[args.index("--port") + 1]) if "--port" in args[:-1] else 8786
    named = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
    return {p.get("port") for p in (scheduler.get("service") or {}).get("ports") or []
            if named.get(p.get("targetPort"), p.get("targetPort")) == listens}


def _worker_memory_errors(command: CommandLine, docs: list[Doc]) -> list[str]:
    if command.program != "dask" or command.argv[:1] != ("worker",) \
            or "--memory-limit" not in command.argv:
        return []
    asked = _bytes(command.argv[command.argv.index("--memory-limit") + 1].replace("B", ""))
    for pod in pods(docs):
        for container in pod.containers:
            where = f"{pod.owner} container {container.get('name')}"
            limit = _memory_limit(container)
            if where == command.where and limit is not None and asked > limit:
                return [f"{command}: --memory-limit is over the container's memory limit"]
    return []


def _all_strings(node: Any) -> str:
    if isinstance(node, dict):
        return "\n".join(_all_strings(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(_all_strings(v) for v in node)
    return str(node)


def image_errors(docs: list[Doc]) -> list[str]:
    """One qserv-access image everywhere (kustomize's images reach the custom resources too)."""
    images = {str(c.get("image")) for p in pods(docs) for c in p.containers
              if "qserv-access" in str(c.get("image"))}
    return [] if len(images) <= 1 else [f"several qserv-access images: {sorted(images)}"]


def catalog_path_errors(docs: list[Doc]) -> list[str]:
    """The shared volumes are mounted at one path everywhere: the ingest hands dask workers
    file paths, and the service reads what the workers wrote."""
    paths: dict[str, set[str]] = {}
    for pod in pods(docs):
        claims = {v.get("name"): (v.get("persistentVolumeClaim") or {}).get("claimName")
                  for v in pod.spec.get("volumes") or []}
        for container in pod.containers:
            for mount in container.get("volumeMounts") or []:
                claim = claims.get(mount.get("name"))
                if claim and not mount.get("subPath"):
                    paths.setdefault(claim, set()).add(mount.get("mountPath"))
    return [f"PersistentVolumeClaim/{claim} is mounted at several paths: {sorted(found)}"
            for claim, found in sorted(paths.items()) if len(found) > 1]


# --- Argo ---------------------------------------------------------------------------------

def argo_reference_errors(docs: list[Doc]) -> list[str]:
    """DAG tasks name defined templates and tasks; {{workflow.parameters.X}} are declared;
    a Workflow from a template gives every parameter that has no default."""
    templates = {(d.get("metadata") or {}).get("name"): d for d in _of_kind(docs,
                                                                        "WorkflowTemplate")}
    errors = []
    for doc in _of_kind(docs, "Workflow", "WorkflowTemplate"):
        spec = doc.get("spec") or {}
        ref = (spec.get("workflowTemplateRef") or {}).get("name")
        params = {p.get("name"): p for p in (spec.get("arguments") or {}).get("parameters") or []}
        if ref:
            errors += _template_ref_errors(doc, templates.get(ref), ref, params)
            continue
        defined = {t.get("name") for t in spec.get("templates") or []}
        if spec.get("entrypoint") not in defined:
            errors.append(f"{name(doc)}: entrypoint {spec.get('entrypoint')!r} is not a template")
        for template in spec.get("templates") or []:
            tasks = (template.get("dag") or {}).get("tasks") or []
            task_names = {t.get("name") for t in tasks}
            for task in tasks:
                if task.get("template") not in defined:
                    errors.append(f"{name(doc)}: task {task.get('name')} uses template "
                                  f"{task.get('template')!r}, which is not defined")
                for dep in re.findall(r"[A-Za-z0-9_-]+", str(task.get("depends") or "")):
                    if dep not in task_names and dep not in {"Succeeded", "Failed", "Errored",
                                                             "Skipped", "Omitted", "Daemoned"}:
                        errors.append(f"{name(doc)}: task {task.get('name')} depends on "
                                      f"{dep!r}, which is not a task of {template.get('name')}")
        for used in sorted(set(re.findall(r"\{\{workflow\.parameters\.([^}\s]+)\}\}",
                                          _all_strings(spec)))):
            if used not in params:
                errors.append(f"{name(doc)}: {{{{workflow.parameters.{used}}}}} is not a "
                              f"parameter of spec.arguments ({sorted(params)})")
    return errors


def _template_ref_errors(doc: Doc, template: Doc | None, ref: str,
                         given: dict[str, Doc]) -> list[str]:
    if template is None:
        return [f"{name(doc)}: workflowTemplateRef {ref!r} is not a WorkflowTemplate here"]
    declared = {p.get("name"): p for p in
                ((template.get("spec") or {}).get("arguments") or {}).get("parameters") or []}
    errors = [f"{name(doc)}: parameter {p!r} is not one of WorkflowTemplate/{ref}'s "
              f"({sorted(declared)})" for p in given if p not in declared]
    errors += [f"{name(doc)}: WorkflowTemplate/{ref} needs parameter {p!r}"
               for p, spec in declared.items() if "value" not in spec and p not in given]
    return errors
