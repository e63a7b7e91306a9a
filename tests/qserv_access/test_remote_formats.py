"""Synchronous results from a real TAP service as VOParquet and as VOTable, and overflow."""

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table
from pyvo.dal import DALQueryError
from pyvo.dal.exceptions import DALOverflowWarning

import qserv_access
from tests.qserv_access.test_remote import remote, tap_url  # noqa: F401 - shared fixtures


@pytest.fixture(scope="module")
def as_votable(tap_url):  # noqa: F811 - the fixture imported above
    cat = qserv_access.connect(tap_url, response_format="votable")
    yield cat
    cat.close()


QUERY = "SELECT id, ra, dec, g_mag FROM sky.object WHERE dec > 0 ORDER BY id"


def test_parquet_is_asked_for_when_the_service_offers_it(remote):  # noqa: F811
    assert remote.response_format == "parquet"
    table = remote.query(QUERY)
    assert table.meta["response_format"] == "parquet"
    assert table.meta["overflow"] is False


def test_parquet_and_votable_give_the_same_table_with_units(remote, as_votable):  # noqa: F811
    parquet = remote.query(QUERY)
    votable = as_votable.query(QUERY)
    assert votable.meta["response_format"] == "votable"
    assert parquet.colnames == votable.colnames
    assert len(parquet) == len(votable) > 100
    for name in parquet.colnames:
        assert np.array_equal(np.asarray(parquet[name]), np.asarray(votable[name])), name
        assert parquet[name].unit == votable[name].unit
    assert parquet["ra"].unit == u.deg and parquet["g_mag"].unit == u.mag


@pytest.mark.parametrize("fmt", ["parquet", "votable"])
def test_a_cut_result_warns_with_rows_limit_and_remedy(tap_url, fmt):  # noqa: F811
    cat = qserv_access.connect(tap_url, response_format=fmt)
    with pytest.warns(DALOverflowWarning) as record:
        table = cat.query(QUERY, maxrec=7)
    assert len(table) == 7 and table.meta["overflow"] is True
    assert len(record) == 1  # ours, not pyvo's as well
    text = str(record[0].message)
    assert "TRUNCATED" in text and "first 7 rows" in text and "maxrec=7" in text
    assert "up to" in text  # the service's hard limit, from its capabilities
    count = int(cat.query("SELECT COUNT(*) AS n FROM sky.object WHERE dec > 0")["n"][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = cat.query(QUERY, maxrec=count)
    assert len(exact) == count and exact.meta["overflow"] is False


def test_parquet_mode_errors_are_the_pyvo_classes(remote):  # noqa: F811
    with pytest.raises(DALQueryError, match="line 1, column"):
        remote.query("SELECT FROM sky.object")
    with pytest.raises(qserv_access.QueryRejected, match="Unknown table"):
        remote.query("SELECT * FROM sky.nosuch")


def test_parquet_mode_uploads(remote):  # noqa: F811
    mine = Table({"ra": [150.0, 10.0], "dec": [2.0, -5.0]})
    pairs = remote.crossmatch(mine, 600 * u.arcsec, columns=["id"])
    assert pairs["match_dist_arcsec"].unit == u.arcsec
    assert np.all(pairs["match_dist_arcsec"] <= 600 * u.arcsec)


def test_unknown_response_format_is_rejected(tap_url):  # noqa: F811
    with pytest.raises(qserv_access.QueryRejected, match="response_format"):
        qserv_access.connect(tap_url, response_format="csv")


def test_text_columns_travel_as_parquet(remote, as_votable):  # noqa: F811
    text = "SELECT table_name, description FROM TAP_SCHEMA.tables ORDER BY table_name"
    parquet, votable = remote.query(text), as_votable.query(text)
    assert parquet.meta["response_format"] == "parquet"
    assert [str(v) for v in parquet["table_name"]] == [str(v) for v in votable["table_name"]]
    assert "sky.object" in [str(v) for v in parquet["table_name"]]


def test_units_come_from_the_votable_header_when_arrow_fields_lack_them():
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from qserv_access.transfer import read_voparquet

    header = ('<?xml version="1.0"?><VOTABLE version="1.4" '
              'xmlns="http://www.ivoa.net/xml/VOTable/v1.3"><RESOURCE type="results"><TABLE>'
              '<FIELD name="ra" datatype="double" unit="deg" ucd="pos.eq.ra">'
              '<DESCRIPTION>right ascension</DESCRIPTION></FIELD>'
              '<FIELD name="name" datatype="char" arraysize="*"/>'
              '<DATA/></TABLE></RESOURCE></VOTABLE>')
    table = pa.table({"ra": [1.5, 2.5], "name": ["a", "bcd"]}).replace_schema_metadata(
        {b"IVOA.VOTable-Parquet.version": b"1.0",
         b"IVOA.VOTable-Parquet.content": header.encode()})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    got = read_voparquet(sink.getvalue())
    assert got["ra"].unit == u.deg and got["ra"].meta["ucd"] == "pos.eq.ra"
    assert got["ra"].description == "right ascension"
    assert got["name"].tolist() == ["a", "bcd"]
