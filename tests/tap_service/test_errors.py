"""The service's one exception handler: every failure is a TAP error document with its status."""

import io
import logging

import httpx
import pytest
from astropy.io.votable import parse

from tap_service.app import create_app
from tap_service.config import TapSettings
from tap_service.errors import InvalidRequestError
from tests.tap_service.test_service import service

pytestmark = pytest.mark.asyncio


def _error_message(response):
    assert response.headers["content-type"].startswith("application/x-votable+xml")
    infos = parse(io.BytesIO(response.content)).resources[0].infos
    (status,) = [i for i in infos if i.name == "QUERY_STATUS"]
    assert status.value == "ERROR"
    return status.content


@pytest.mark.parametrize("path", ["/tap/nothing", "/tap/async/x/y/z", "/elsewhere"])
async def test_unknown_routes_answer_404_error_documents(tap_engine, tmp_path, path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.get(path)
    assert r.status_code == 404
    message = _error_message(r)
    assert f"No resource at {path}" in message
    assert "/tap/sync" in message


@pytest.mark.parametrize(("method", "path"), [("PUT", "/tap/sync"),
                                              ("POST", "/tap/capabilities"),
                                              ("DELETE", "/tap/tables")])
async def test_wrong_methods_answer_405_with_allow(tap_engine, tmp_path, method, path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.request(method, path)
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]
    assert f"{method} is not allowed on {path}" in _error_message(r)


async def test_unknown_table_document_is_a_404_error_document(tap_engine, tmp_path):
    async with service(tap_engine, tmp_path) as client:
        r = await client.get("/tap/tables/sky.nothing")
    assert r.status_code == 404
    assert "No table 'sky.nothing'" in _error_message(r)


async def _app_with_route(tap_engine, tmp_path, handler):
    app = create_app(TapSettings(data_dir=tmp_path, work_dir=tmp_path / "work"), engine=tap_engine)
    app.add_api_route("/tap/probe", handler, methods=["GET"])
    return app


async def test_a_raised_service_error_becomes_its_status(tap_engine, tmp_path):
    async def probe():
        raise InvalidRequestError("Invalid PROBE 'x': give a number.")

    app = await _app_with_route(tap_engine, tmp_path, probe)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tap.test") as client:
        r = await client.get("/tap/probe")
    assert r.status_code == 400
    assert _error_message(r) == "Invalid PROBE 'x': give a number."


async def test_an_unexpected_error_is_a_500_with_an_id_that_the_log_holds(
        tap_engine, tmp_path, caplog):
    async def probe():
        return {}["missing"]

    app = await _app_with_route(tap_engine, tmp_path, probe)
    # raise_app_exceptions stays on: the error must be answered, not passed on to the server.
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tap.test") as client:
        with caplog.at_level(logging.ERROR, logger="tap_service"):
            r = await client.get("/tap/probe")
    assert r.status_code == 500
    message = _error_message(r)
    assert "Internal error (id " in message
    error_id = message.split("(id ")[1].split(")")[0]
    logged = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert logged
    assert logged[0].exc_info[0] is KeyError
