import pytest

from tests.support.postgres import postgres_bindir, running_postgres


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """URL of a real PostgreSQL server started for this test session."""
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL binaries not found (install the Debian package 'postgresql')")
    try:
        with running_postgres(tmp_path_factory.mktemp("pg")) as url:
            yield url
    except RuntimeError as exc:  # pragma: no cover - environment dependent
        pytest.skip(f"cannot start PostgreSQL: {exc}")


@pytest.fixture(scope="session")
def tap_data_dir(tmp_path_factory, tap_data_template):
    """Data directory with sky.objects and its child sky.sources, ingested once a session."""
    from tests.support.tap_data import copy_tap_data_dir

    return copy_tap_data_dir(tap_data_template, tmp_path_factory.mktemp("tapdata"))


@pytest.fixture(scope="session")
def tap_engine(tap_data_dir):
    """The real engine over the test data, opened once."""
    api = pytest.importorskip("engine.api", reason="engine.api (the query façade) is missing")
    engine = api.Engine.open(tap_data_dir)
    yield engine
    engine.close()
