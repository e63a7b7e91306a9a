"""The command lines the manifests, the image and the CI workflow run, parsed by the real
parsers: ``qserv-access`` by ``qserv_access.cli.build_parser()``, ``qserv-access-benchmark``
by its own, ``dask scheduler``/``dask worker`` by distributed's click commands.

Values only known at run time (``{{workflow.parameters.x}}``, ``$(VAR)``, ``$VAR``,
``${{ env.X }}``) are replaced by ``1`` before parsing, which every option here accepts.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.deploy.manifests import DEPLOY, Doc, pods

RUNTIME_VALUE = re.compile(
    r"\$\{\{.*?\}\}"               # GitHub expression
    r"|\{\{[^}]*\}\}"              # Argo parameter
    r"|\$\([A-Za-z_][A-Za-z0-9_]*\)"  # Kubernetes $(VAR) in command/args
    r"|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*"  # shell variable
)
SHELLS = {"sh", "bash"}
SHELL_OPERATORS = set("();<>|&")
COMMAND_PREFIXES = {"--", "exec", "time", "nice", "env", "then", "do", "else"}
"""Words after which a shell (or ``kubectl exec ... --``) runs the next word as a program."""


@dataclass(frozen=True)
class CommandLine:
    """One invocation: where it is written, the program and its arguments."""

    where: str
    program: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join([self.program, *self.argv])}"


def runtime_free(text: str) -> str:
    return RUNTIME_VALUE.sub("1", text)


def in_shell(text: str, where: str) -> Iterator[CommandLine]:
    """The invocations of the known programs in a shell script."""
    for line in text.replace("\\\n", " ").splitlines():
        if line.strip().startswith("#") or not any(p in line for p in PARSERS):
            continue
        lexer = shlex.shlex(runtime_free(line), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            at_command = i == 0 or set(tokens[i - 1]) <= SHELL_OPERATORS \
                or tokens[i - 1] in COMMAND_PREFIXES
            if at_command and token.rpartition("/")[2] in PARSERS:
                argv = []
                for arg in tokens[i + 1:]:
                    if set(arg) <= SHELL_OPERATORS:
                        break
                    argv.append(arg)
                yield CommandLine(where, token.rpartition("/")[2], tuple(argv))


def in_manifests(docs: list[Doc]) -> Iterator[CommandLine]:
    """Invocations in containers' command/args and in Argo script templates."""
    for pod in pods(docs):
        for container in pod.containers:
            where = f"{pod.owner} container {container.get('name')}"
            argv = [runtime_free(str(a)) for a in
                    list(container.get("command") or []) + list(container.get("args") or [])]
            if not argv:
                continue
            program = argv[0].rpartition("/")[2]
            if program in PARSERS:
                yield CommandLine(where, program, tuple(argv[1:]))
            elif program in SHELLS and "source" in container:
                yield from in_shell(container["source"], where)
            elif program in SHELLS and "-c" in argv:
                yield from in_shell(" ".join(argv[argv.index("-c") + 1:]), where)


def in_github_workflow(workflow: Doc, where: str) -> Iterator[CommandLine]:
    for job_name, job in (workflow.get("jobs") or {}).items():
        for number, step in enumerate(job.get("steps") or []):
            if "run" in step:
                label = f"{where} job {job_name} step {step.get('name', number)}"
                yield from in_shell(step["run"], label)


def parse_error(command: CommandLine) -> str | None:
    """None when the program's own parser accepts the arguments, else its message."""
    return PARSERS[command.program](list(command.argv))


def _argparse(make_parser: Callable[[], Any], prefix: tuple[str, ...] = ()) -> Callable:
    def parse(argv: list[str]) -> str | None:
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                make_parser().parse_args([*prefix, *argv])
        except SystemExit as exc:
            return stderr.getvalue().strip().splitlines()[-1] if exc.code else None
        return None
    return parse


def _qserv_access_parser() -> Any:
    from qserv_access.cli import build_parser

    return build_parser()


@functools.cache
def benchmark_module() -> Any:
    """deploy/image/benchmark.py (the image's qserv-access-benchmark) as a module."""
    spec = importlib.util.spec_from_file_location("qsa_benchmark",
                                                  DEPLOY / "image" / "benchmark.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _benchmark(argv: list[str]) -> str | None:
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            benchmark_module().parse_args(argv)
    except SystemExit as exc:
        return stderr.getvalue().strip().splitlines()[-1] if exc.code else None
    return None


def _dask(argv: list[str]) -> str | None:
    """``dask scheduler ...`` / ``dask worker ...`` through distributed's click commands."""
    import click
    from distributed.cli import dask_scheduler, dask_worker

    commands = {"scheduler": dask_scheduler.main, "worker": dask_worker.main}
    if not argv or argv[0] not in commands:
        return f"dask: unknown sub-command {argv[:1]}; expected one of {sorted(commands)}"
    try:
        commands[argv[0]].make_context(f"dask {argv[0]}", list(argv[1:]))
    except click.ClickException as exc:
        return exc.format_message()
    return None


PARSERS: dict[str, Callable[[list[str]], str | None]] = {
    "qserv-access": _argparse(_qserv_access_parser),
    "qserv-access-benchmark": _benchmark,
    "dask": _dask,
}
