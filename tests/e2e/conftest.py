"""One real TAP server (``qserv-access serve`` under uvicorn) on 127.0.0.1 per session."""

import pytest

from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server


@pytest.fixture(scope="session")
def tap_url(tmp_path_factory, tap_data_template):
    pytest.importorskip("engine.api", reason="engine.api (the query façade) is missing")
    from tests.support.tap_data import copy_tap_data_dir

    root = tmp_path_factory.mktemp("e2e")
    data_dir = copy_tap_data_dir(tap_data_template, root)
    # A default MAXREC below the table size, so that the service limit can be seen to cut.
    with running_tap_server(data_dir, root, free_port(),
                            env={"QSA_TAP_DEFAULT_MAXREC": "1000"}) as url:
        yield url
