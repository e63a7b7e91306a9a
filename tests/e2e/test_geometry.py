"""Geometry columns as real clients read them from the real server: pyvo, STILTS, astropy.

Every geometry-valued function (tests/support/geometry_cases.py) in one wide query, each
column followed by a scalar one: values, NULLs (an upload missing coordinates), empty
results and the FIELD metadata must come through every format these clients read.
"""

import io
import subprocess
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
import pyvo
from astropy.io.votable import parse
from astropy.table import MaskedColumn, Table

from tests.support import geometry_cases as geo
from tests.support.stilts import ensure_stilts

VOTABLE_FORMATS = ("votable", "votable/td")


@pytest.fixture(scope="module")
def tap(tap_url):
    return pyvo.dal.TAPService(tap_url)


def _targets() -> Table:
    table = Table()
    for name, values in geo.UPLOAD_ROWS.items():
        mask = [v is None for v in values]
        table[name] = MaskedColumn([0 if v is None else v for v in values], mask=mask,
                                   dtype=int if name == "tid" else float)
    return table


def _pyvo_read(tap, adql, fmt, uploads=None):
    result = tap.run_sync(adql, uploads=uploads, RESPONSEFORMAT=fmt)
    return geo.from_astropy(result.to_table(), geo.votable_fields(result.votable))


@pytest.mark.parametrize("fmt", VOTABLE_FORMATS)
def test_pyvo_reads_every_geometry_function(tap, fmt):
    read = _pyvo_read(tap, geo.WIDE, fmt)
    assert len(read.values["k"]) == 40
    geo.check(read)


@pytest.mark.parametrize("fmt", VOTABLE_FORMATS)
def test_pyvo_reads_null_geometry_values(tap, fmt):
    read = _pyvo_read(tap, geo.NULLS, fmt, uploads={"targets": _targets()})
    assert list(read.nulls["ra"] | read.nulls["dec"]) == [False, True, True, False]
    geo.check(read)


def test_pyvo_async_job_result_reads_every_geometry_function(tap):
    result = tap.run_async(geo.WIDE)
    read = geo.from_astropy(result.to_table(), geo.votable_fields(result.votable))
    assert len(read.values["k"]) == 40
    geo.check(read)


def test_pyvo_reads_the_fields_of_an_empty_geometry_result(tap):
    read = _pyvo_read(tap, geo.EMPTY, "votable")
    assert len(read.values["k"]) == 0
    for case in geo.CASES:
        geo.check_field(read.fields[case.name], case)


def test_binary2_and_tabledata_from_the_server_agree_value_for_value(tap):
    for adql, uploads in ((geo.WIDE, None), (geo.NULLS, {"targets": _targets()})):
        b2 = _pyvo_read(tap, adql, "votable", uploads)
        td = _pyvo_read(tap, adql, "votable/td", uploads)
        assert b2.fields == td.fields
        for name in b2.values:
            assert np.array_equal(b2.nulls[name], td.nulls[name]), name
            for a, b in zip(b2.values[name], td.values[name], strict=True):
                assert (a is None and b is None) or np.array_equal(a, b), (name, a, b)


# ---------------------------------------------------------------- astropy, over HTTP


def _post_sync(tap_url, adql, fmt, with_targets=False):
    data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql, "RESPONSEFORMAT": fmt}
    files = None
    if with_targets:
        upload = io.BytesIO()
        _targets().write(upload, format="votable")
        data["UPLOAD"] = "targets,param:targets"
        files = {"targets": ("targets.xml", upload.getvalue(), "application/x-votable+xml")}
    response = httpx.post(f"{tap_url}/sync", data=data, files=files, timeout=120)
    assert response.status_code == 200, response.text[:2000]
    return response.content


def _astropy_parquet(content):
    fields = geo.votable_fields(parse(io.BytesIO(_parquet_votable_header(content))))
    return geo.from_astropy(Table.read(io.BytesIO(content), format="parquet.votable"), fields)


def _parquet_votable_header(content):
    import pyarrow.parquet as pq

    return pq.read_schema(io.BytesIO(content)).metadata[b"IVOA.VOTable-Parquet.content"]


@pytest.mark.parametrize(("adql", "with_targets"), [(geo.WIDE, False), (geo.NULLS, True)],
                         ids=["values", "nulls"])
def test_astropy_reads_parquet_votable_from_the_server(tap_url, adql, with_targets):
    read = _astropy_parquet(_post_sync(tap_url, adql, "parquet", with_targets))
    geo.check(read)


def test_astropy_reads_an_empty_parquet_geometry_result(tap_url):
    read = _astropy_parquet(_post_sync(tap_url, geo.EMPTY, "parquet"))
    assert len(read.values["k"]) == 0
    for case in geo.CASES:
        geo.check_field(read.fields[case.name], case)


@pytest.mark.parametrize("fmt", VOTABLE_FORMATS)
def test_astropy_reads_votable_geometry_from_the_server(tap_url, fmt):
    content = _post_sync(tap_url, geo.WIDE, fmt)
    geo.check(geo.from_astropy(Table.read(io.BytesIO(content), format="votable"),
                               geo.votable_fields(parse(io.BytesIO(content)))))


# ---------------------------------------------------------------- STILTS (TOPCAT's library)


@pytest.fixture(scope="module")
def stilts():
    command = ensure_stilts()
    if command is None:
        pytest.skip("stilts (Debian package 'stilts', needs Java) is not installed and cannot be")
    return command


def _stilts_read(stilts, tmp_path, *args):
    """Run STILTS, let it write what it read as a TABLEDATA VOTable, read that back."""
    out = tmp_path / "stilts-out.xml"
    done = subprocess.run([stilts, *args, "ofmt=votable-tabledata", f"out={out}"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    vot = parse(str(out))
    return geo.from_astropy(vot.get_first_table().to_table(), geo.votable_fields(vot))


@pytest.mark.integration
def test_stilts_tapquery_reads_every_geometry_function(stilts, tap_url, tmp_path):
    # tapquery is what TOPCAT's TAP window does: the default format (BINARY2)
    read = _stilts_read(stilts, tmp_path, "tapquery", f"tapurl={tap_url}", "sync=true",
                        f"adql={geo.WIDE}")
    assert len(read.values["k"]) == 40
    geo.check(read)


@pytest.mark.integration
def test_stilts_reads_tabledata_geometry(stilts, tap_url, tmp_path):
    url = f"{tap_url}/sync?" + urlencode({"REQUEST": "doQuery", "LANG": "ADQL",
                                           "QUERY": geo.WIDE, "RESPONSEFORMAT": "votable/td"})
    geo.check(_stilts_read(stilts, tmp_path, "tpipe", f"in={url}", "ifmt=votable"))


@pytest.mark.integration
def test_stilts_tapquery_reads_null_geometry_values(stilts, tap_url, tmp_path):
    upload = tmp_path / "targets.xml"
    _targets().write(upload, format="votable")  # doubles with NULLs (CSV would guess float)
    read = _stilts_read(stilts, tmp_path, "tapquery", f"tapurl={tap_url}", "sync=true",
                        "nupload=1", f"upload1={upload}", "ufmt1=votable", "upname1=targets",
                        f"adql={geo.NULLS}")
    assert list(read.nulls["ra"] | read.nulls["dec"]) == [False, True, True, False]
    geo.check(read)


@pytest.mark.integration
def test_stilts_tapquery_reads_the_fields_of_an_empty_geometry_result(stilts, tap_url,
                                                                     tmp_path):
    read = _stilts_read(stilts, tmp_path, "tapquery", f"tapurl={tap_url}", "sync=true",
                        f"adql={geo.EMPTY}")
    assert len(read.values["k"]) == 0
    for case in geo.CASES:
        geo.check_field(read.fields[case.name], case)
