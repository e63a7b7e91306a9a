import pyarrow as pa
import pytest
from starlette.requests import Request

from tap_service.auth import ANONYMOUS, TokenAuth
from tap_service.errors import AuthenticationError, InvalidRequestError, UploadError
from tap_service.params import RequestParams, parse_query_request
from tap_service.uploads import parse_table, parse_upload_spec


def _params(**values):
    p = RequestParams()
    for k, v in values.items():
        p.add(k.lower(), v)  # names are case-insensitive
    return p


def _parse(**values):
    return parse_query_request(_params(**values), default_maxrec=100, hard_maxrec=1000)


def test_valid_request_with_defaults():
    q = _parse(LANG="ADQL-2.1", QUERY="SELECT 1", REQUEST="doQuery")
    assert (q.query, q.maxrec, q.response_format) == ("SELECT 1", 100, None)


def test_maxrec_is_capped_at_the_hard_limit():
    assert _parse(LANG="ADQL", QUERY="x", MAXREC="5000").maxrec == 1000
    assert _parse(LANG="ADQL", QUERY="x", MAXREC="0").maxrec == 0


@pytest.mark.parametrize(("values", "message"), [
    ({"QUERY": "SELECT 1"}, "Missing parameter LANG"),
    ({"LANG": "PQL", "QUERY": "SELECT 1"}, "Unsupported LANG 'PQL'"),
    ({"LANG": "ADQL"}, "Missing parameter QUERY"),
    ({"LANG": "ADQL", "QUERY": "x", "MAXREC": "many"}, "Invalid MAXREC 'many'"),
    ({"LANG": "ADQL", "QUERY": "x", "MAXREC": "-3"}, "must not be negative"),
    ({"LANG": "ADQL", "QUERY": "x", "REQUEST": "getCapabilities"}, "Unsupported REQUEST"),
])
def test_invalid_requests_say_what_is_wrong(values, message):
    with pytest.raises(InvalidRequestError, match=message):
        _parse(**values)


def test_upload_spec_parsing_and_bad_names():
    assert parse_upload_spec("a,param:x;b,http://h/t.xml") == [("a", "param:x"),
                                                                ("b", "http://h/t.xml")]
    with pytest.raises(UploadError, match="Invalid upload table name"):
        parse_upload_spec("1bad,param:x")
    with pytest.raises(UploadError, match="Invalid UPLOAD"):
        parse_upload_spec("nocomma")


def test_csv_and_votable_uploads_become_arrow_tables():
    csv = parse_table(b"id,ra,dec\n1,10.0,20.0\n2,11.0,-5.5\n", "t")
    assert csv.column_names == ["id", "ra", "dec"]
    assert csv.num_rows == 2
    import io

    from astropy.table import Table
    t = Table({"ra": [1.0, 2.0], "name": ["a", "b"]})
    t["ra"].unit = "deg"
    buf = io.BytesIO()
    t.write(buf, format="votable")
    table = parse_table(buf.getvalue(), "t")
    assert table["name"].to_pylist() == ["a", "b"]
    assert table.schema.field("ra").metadata[b"unit"] == b"deg"
    assert pa.types.is_floating(table["ra"].type)


def test_garbage_upload_is_a_clear_error():
    with pytest.raises(UploadError, match="neither a readable VOTable nor a CSV"):
        parse_table(b"<not xml", "bad")


def _request(headers):
    scope = {"type": "http", "headers": [(k.lower().encode(), v.encode())
                                         for k, v in headers.items()]}
    return Request(scope)


def test_tokens_map_to_owners(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# token owner\nsecret1 alice\nsecret2 bob\n")
    auth = TokenAuth.from_file(path)
    assert auth.owner(_request({"Authorization": "Bearer secret2"})) == "bob"
    with pytest.raises(AuthenticationError, match="Unknown bearer token"):
        auth.owner(_request({"Authorization": "Bearer nope"}))
    with pytest.raises(AuthenticationError, match="needs 'Authorization: Bearer"):
        auth.owner(_request({}))
    assert TokenAuth.from_file(None).owner(_request({})) == ANONYMOUS
