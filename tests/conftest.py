"""Options shared by the whole suite."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ from the current code")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run should rewrite golden files instead of comparing with them."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def tap_data_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TAP tests' small data directory (``tests.support.tap_data``), ingested once a
    session; fixtures copy it (``copy_tap_data_dir``) rather than write to it."""
    pytest.importorskip("engine.ingest.api", reason="the ingest engine is not available")
    from tests.support.tap_data import build_tap_data_dir

    return build_tap_data_dir(tmp_path_factory.mktemp("tapdata-template"))


# Under ``pytest -n N --dist loadgroup`` (``make test``) each test file runs on one xdist
# worker, so its module fixtures (servers, clusters, ingests) are built once, as with
# ``--dist loadfile``; tests that touch the same shared folder run on one worker, in turn.
# An explicit ``@pytest.mark.xdist_group`` wins.
DEMO_GROUP = "demo-data"
DEMO_FIXTURE = "demo_dir"


@functools.cache
def _builds_demo(path: Path) -> bool:
    return "build_demo" in path.read_text(encoding="utf-8")


def _file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its xdist group before xdist reads the marks (loadgroup only):
    ``demo-data`` for a whole file when it may build the repository's ``demo-data/`` (one
    of its tests uses the ``demo_dir`` fixture, or it calls ``build_demo``: the notebooks),
    else the test's file."""
    if (not config.pluginmanager.hasplugin("xdist")
            or config.getoption("dist", "no") != "loadgroup"):
        return
    demo_files = {_file_of(item) for item in items
                  if DEMO_FIXTURE in getattr(item, "fixturenames", ())
                  or _builds_demo(Path(item.path))}
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            name = _file_of(item)
            item.add_marker(pytest.mark.xdist_group(DEMO_GROUP if name in demo_files else name))
