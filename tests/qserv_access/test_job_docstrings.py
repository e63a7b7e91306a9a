"""The examples in the docstrings of the job, widget and UWS jobInfo helpers run."""

import doctest
import importlib

import pytest

MODULES = ["qserv_access.jobs", "qserv_access.widgets.plots", "tap_service.uws.xml"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    if name.startswith("qserv_access.widgets"):
        pytest.importorskip("matplotlib")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=vars(module).copy()):
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted > 0
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed (see output above)"
