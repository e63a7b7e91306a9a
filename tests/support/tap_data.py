"""A small data directory for the TAP service tests: objects plus their child sources."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.small_sky import make_small_sky, make_small_sources

OBJECTS = "sky.objects"
SOURCES = "sky.sources"


def build_tap_data_dir(root: Path) -> Path:
    """Ingest the small sky (2,000 objects, 3 sources each) into ``root/data``."""
    from engine.ingest.api import ingest_files

    data_dir = root / "data"
    objects = make_small_sky(root / "objects.parquet", n=2000, seed=1)
    sources = make_small_sources(root / "sources.parquet", objects, per_object=3)
    ingest_files(data_dir, OBJECTS, [str(objects)], ra="ra", dec="dec", id_column="id",
                 progress=False)
    ingest_files(data_dir, SOURCES, [str(sources)], ra="ra", dec="dec", id_column="source_id",
                 director=OBJECTS, director_key="object_id", progress=False)
    return data_dir


def copy_tap_data_dir(template: Path, root: Path) -> Path:
    """A copy of a directory :func:`build_tap_data_dir` made, as ``root/data``, with the
    input files beside it as there (tests compare answers with them): the ingest runs once
    a session (the ``tap_data_template`` fixture), each server gets its own copy."""
    data_dir = root / "data"
    shutil.copytree(template, data_dir)
    for source in template.parent.glob("*.parquet"):
        shutil.copy2(source, root / source.name)
    return data_dir
