"""The same client calls against a real TAP service (uvicorn on 127.0.0.1)."""

from pathlib import Path

import pytest
from astropy import units as u
from astropy.table import Table
from pyvo.dal import DALQueryError

import qserv_access
from qserv_access import JobPhase

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not (ROOT / "tap_service" / "app.py").exists(),
                                reason="the TAP service is not there yet")


@pytest.fixture(scope="module")
def tap_url(sky_dir, tmp_path_factory):
    from tests.support.postgres import free_port
    from tests.support.tap_server import running_tap_server

    with running_tap_server(sky_dir, tmp_path_factory.mktemp("remote"), free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def remote(tap_url):
    cat = qserv_access.connect(tap_url)
    yield cat
    cat.close()


def test_remote_and_local_give_the_same_cone(remote, catalog):
    from qserv_access.client import RemoteCatalog

    assert isinstance(remote, RemoteCatalog)
    assert remote.tables["sky.object"].ra_column == "ra"
    got = remote.cone_search((150.0, 2.0), 0.2 * u.deg, columns=["id", "ra"])
    assert got["ra"].unit == u.deg
    assert sorted(got["id"]) == sorted(catalog.cone_search((150.0, 2.0), 0.2)["id"])


def test_remote_crossmatch_uploads_the_table(remote, catalog):
    mine = Table({"ra": [150.0, 10.0], "dec": [2.0, -5.0]})
    assert len(remote.crossmatch(mine, 600 * u.arcsec, columns=["id"])) == len(
        catalog.crossmatch(mine, 600 * u.arcsec, columns=["id"]))


def test_remote_async_job_and_errors(remote):
    job = remote.submit("SELECT COUNT(*) AS n FROM sky.object")
    assert job.result(timeout_s=60)["n"][0] == 2000
    assert job.phase is JobPhase.COMPLETED
    with pytest.raises(DALQueryError, match="line 1, column"):
        remote.query("SELECT FROM sky.object")
