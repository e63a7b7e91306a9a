"""Options shared by the whole suite."""

from __future__ import annotations

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
