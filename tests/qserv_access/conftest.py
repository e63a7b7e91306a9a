"""A small sky ingested once per session, and a LocalCatalog over it."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sky_dir(tmp_path_factory):
    from engine.ingest.api import ingest_files
    from tests.support.small_sky import make_small_sky

    root = tmp_path_factory.mktemp("qsa")
    path = make_small_sky(root / "sky.parquet", n=2000, seed=1)
    data_dir = root / "data"
    ingest_files(data_dir, "sky.object", [str(path)], ra="ra", dec="dec", id_column="id",
                 progress=False)
    return data_dir


@pytest.fixture(scope="session")
def sky_rows(sky_dir, tmp_path_factory):
    """All rows of the small sky as a pyarrow Table (the brute-force oracle's input)."""
    from tests.support.small_sky import make_small_sky

    path = make_small_sky(tmp_path_factory.mktemp("oracle") / "sky.parquet", n=2000, seed=1)
    return pq.read_table(path)


@pytest.fixture(scope="session")
def catalog(sky_dir):
    import qserv_access

    cat = qserv_access.connect(sky_dir, workers=2)
    yield cat
    cat.close()


@pytest.fixture(scope="session")
def demo_dir():
    """What `make demo` builds (QSA_DEMO_DATA points elsewhere), built here when absent as the
    notebooks build it."""
    import os
    from pathlib import Path

    from qserv_access.demo_data import build_demo, demo_is_built

    root = Path(__file__).resolve().parents[2]
    data = Path(os.environ.get("QSA_DEMO_DATA", root / "demo-data"))
    if not demo_is_built(data):
        build_demo(data)
    return data
