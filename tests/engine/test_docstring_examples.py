"""Every ``Examples`` section in the engine's docstrings runs, and gives what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import engine

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(engine.__path__, prefix="engine.")
)
OPTIONAL = {"engine.execute.dask": "distributed"}
"""Modules that need an optional extra; their examples run only where it is installed."""


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed (see output above)"


def test_the_engine_has_examples_at_all() -> None:
    finder = doctest.DocTestFinder(exclude_empty=True)
    examples = sum(
        len(test.examples)
        for name in MODULES
        if name not in OPTIONAL
        for test in finder.find(importlib.import_module(name), name)
    )
    assert examples >= 10
