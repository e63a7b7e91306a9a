"""The CI workflow and the image recipe, checked offline: actionlint (with shellcheck on
its run: steps), shellcheck on the Argo ingest scripts, and the command lines they run."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.commands import CommandLine, in_github_workflow, parse_error
from tests.deploy.consistency import answers_get
from tests.deploy.manifests import ROOT, Doc

WORKFLOWS = ROOT / ".github" / "workflows"
DOCKERFILE = ROOT / "Dockerfile"
BIN = str(Path(sys.executable).parent)


def tool(name: str) -> str:
    exe = shutil.which(name, path=BIN)
    assert exe, f"{name} is part of the dev extra (pyproject.toml)"
    return exe


def actionlint(root: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on root's .github/workflows, with the dev extra's shellcheck on PATH."""
    tool("shellcheck")
    found = (root / ".github" / "workflows").glob("*.y*ml")
    files = sorted(str(p.relative_to(root)) for p in found)
    return subprocess.run([tool("actionlint"), "-no-color", "-shellcheck", tool("shellcheck"),
                           *files], cwd=root, capture_output=True, text=True, timeout=120)


def test_workflows_pass_actionlint() -> None:
    done = actionlint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "deploy.yml").write_text(
        (WORKFLOWS / "deploy.yml").read_text()
        .replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04")
        .replace('kind load docker-image "$IMAGE"', "kind load docker-image $IMAGE"))
    done = actionlint(tmp_path)
    assert done.returncode == 1
    assert 'unexpected key "runs_on"' in done.stdout
    assert "SC2086" in done.stdout  # shellcheck ran on the run: steps


def test_workflow_command_lines_parse() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    commands = list(in_github_workflow(workflow, "deploy.yml"))
    assert [c.argv[0] for c in commands] == ["check"]
    errors = [f"{c}: {e}" for c in commands if (e := parse_error(c))]
    assert errors == []


def test_workflow_does_what_qservs_ci_does() -> None:
    """Build, kind, load, operators, deploy the kind overlay, e2e checks, scan: in order."""
    workflow = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    steps = workflow["jobs"]["kind-e2e"]["steps"]
    text = [yaml.safe_dump(step) for step in steps]
    expected = ["pytest tests/deploy", "docker build", "helm/kind-action",
                "kind load docker-image", "dask-kubernetes-operator", "argo-workflows",
                "kubectl apply -k deploy/overlays/kind",
                "rollout status deployment/qserv-access-tap",
                "deploy/e2e/ingest-workflow.yaml", "deploy/e2e/check_tap.py",
                "qserv-access check", "aquasecurity/trivy-action"]
    positions = [next((i for i, t in enumerate(text) if word in t), None) for word in expected]
    assert None not in positions, dict(zip(expected, positions, strict=True))
    assert positions == sorted(positions), dict(zip(expected, positions, strict=True))


def _argo_scripts(docs: list[Doc]) -> list[tuple[str, str]]:
    return [(t["name"], t["script"]["source"]) for d in docs if d["kind"] == "WorkflowTemplate"
            for t in d["spec"]["templates"] if "script" in t]


def shellcheck(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("shellcheck"), "--shell=bash", "-"], input=source,
                          capture_output=True, text=True, timeout=60)


def test_argo_scripts_pass_shellcheck(rendered: dict[str, list[Doc]]) -> None:
    scripts = _argo_scripts(rendered["base"])
    assert {name for name, _ in scripts} == {"check-inputs", "ingest"}
    for name, source in scripts:
        done = shellcheck(source)
        assert done.returncode == 0, f"template {name}:\n{done.stdout}"


def test_shellcheck_reports_a_broken_script(rendered: dict[str, list[Doc]]) -> None:
    _, source = _argo_scripts(rendered["base"])[0]
    done = shellcheck(source.replace('"$DATA_DIR"', "$DATA_DIR"))
    assert done.returncode == 1 and "SC2086" in done.stdout


# --- the image ----------------------------------------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in lines if line and not line.startswith("#")]


def test_image_recipe() -> None:
    steps = _instructions()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert all(arg.startswith("python:3.11-slim") for arg in froms) and len(froms) >= 2
    user = [arg for op, arg in steps if op == "USER"][-1]
    assert user.split(":")[0] not in ("0", "root")
    assert ("EXPOSE", "8000") in steps
    health = next(arg for op, arg in steps if op == "HEALTHCHECK")
    assert "/tap/availability" in health and answers_get("/tap/availability")
    cmd = json.loads(next(arg for op, arg in steps if op == "CMD"))
    command = CommandLine("Dockerfile CMD", cmd[0], tuple(cmd[1:]))
    assert command.program == "qserv-access" and parse_error(command) is None
    assert "--port" in cmd and cmd[cmd.index("--port") + 1] == "8000"


def _ignored(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` out of the build context (last match wins)."""
    verdict = False
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = Path(path).parts
        if any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            verdict = not negate
    return verdict


@pytest.mark.parametrize("source", [arg.split()[0] for op, arg in _instructions()
                                    if op == "COPY" and not arg.startswith("--from")])
def test_image_copies_files_that_reach_the_build(source: str) -> None:
    assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert not _ignored(source), f".dockerignore leaves {source} out of the build context"


def test_deploy_scripts_pass_ruff() -> None:
    """deploy/'s Python (the benchmark step, CI's pyvo checks) is outside `make lint`'s paths."""
    scripts = sorted(str(p) for p in (ROOT / "deploy").rglob("*.py"))
    assert len(scripts) >= 2
    done = subprocess.run([tool("ruff"), "check", *scripts], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
