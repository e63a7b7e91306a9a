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
