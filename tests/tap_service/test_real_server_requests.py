"""The request fixes as real clients meet them: pyvo and httpx against uvicorn on 127.0.0.1.

The server starts with a duration setting in plain seconds (QSA_TAP_SYNC_TIMEOUT=30 used to
stop it from starting) and a 1 MB upload limit, so that an oversized upload can be sent.
"""

import io

import httpx
import pytest
import pyvo
from astropy.io.votable import parse
from astropy.table import Table
from pyvo.dal import DALQueryError, DALServiceError

from tests.support.postgres import free_port
from tests.support.tap_server import running_tap_server
from tests.tap_service.test_request_limits import longest_query

UPLOAD_LIMIT = 1_000_000


@pytest.fixture(scope="module")
def tap_url(tap_data_dir, tmp_path_factory):
    env = {"QSA_TAP_SYNC_TIMEOUT": "30", "QSA_TAP_MAX_EXECUTION_DURATION": "7200",
           "QSA_TAP_UPLOAD_MAX_BYTES": str(UPLOAD_LIMIT)}
    with running_tap_server(tap_data_dir, tmp_path_factory.mktemp("srv"), free_port(),
                            env=env) as url:
        yield url


def test_durations_in_seconds_are_taken_from_the_environment(tap_url):
    caps = httpx.get(tap_url + "/capabilities").text
    assert "<executionDuration><default>3600</default><hard>7200</hard>" in caps


def test_pyvo_runs_a_query_of_the_documented_length(tap_url):
    result = pyvo.dal.TAPService(tap_url).run_sync(longest_query("é"))
    assert result.to_table()["n"][0] > 0


def test_pyvo_hears_why_an_upload_with_columns_differing_in_case_is_refused(tap_url):
    table = Table({"a": [1], "b": [2], "A": [3]})
    with pytest.raises(DALQueryError, match="'a' and 'A'; ADQL names are case-insensitive"):
        pyvo.dal.TAPService(tap_url).run_sync("SELECT a FROM TAP_UPLOAD.t", uploads={"t": table})


def test_an_infinite_execution_duration_is_a_400_for_every_client(tap_url):
    r = httpx.post(tap_url + "/async", data={"LANG": "ADQL", "QUERY": "SELECT 1",
                                             "EXECUTIONDURATION": "inf"})
    assert r.status_code == 400
    assert "Invalid EXECUTIONDURATION 'inf'" in r.text
    job = pyvo.dal.TAPService(tap_url).submit_job("SELECT TOP 1 id FROM sky.objects")
    try:
        # pyvo reports the status of a refused change, not the document (it was a 500).
        with pytest.raises(DALServiceError, match="400 Client Error"):
            job.execution_duration = float("inf")
    finally:
        job.delete()


def test_unknown_paths_and_methods_are_tap_errors(tap_url):
    r = httpx.get(tap_url + "/nothing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/x-votable+xml")
    assert parse(io.BytesIO(r.content)).resources[0].infos[0].value == "ERROR"
    r = httpx.put(tap_url + "/sync")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]


def test_the_server_stops_reading_an_oversized_upload(tap_url):
    pulled = 0
    total = 200 * 1024 * 1024

    def body():
        nonlocal pulled
        head = (b"--b\r\nContent-Disposition: form-data; name=\"LANG\"\r\n\r\nADQL\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"QUERY\"\r\n\r\n"
                b"SELECT COUNT(*) FROM TAP_UPLOAD.t\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"UPLOAD\"\r\n\r\nt,param:f\r\n"
                b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t.csv\"\r\n\r\n"
                b"a\n")
        yield head
        chunk = b"1\n" * 32768
        while pulled < total:
            pulled += len(chunk)
            yield chunk

    try:
        r = httpx.post(tap_url + "/sync", content=body(), timeout=60,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})
    except httpx.TransportError:
        r = None  # the server may close the connection before the client reads its answer
    if r is not None:
        assert r.status_code == 413
        assert f"limit of {UPLOAD_LIMIT} bytes" in r.text
    # Socket buffers on both sides let a few MiB more through, not the 200 MiB.
    assert pulled < total // 4
