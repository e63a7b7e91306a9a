import pytest

from qserv_access import QueryRejected, adql


@pytest.mark.parametrize(("name", "expected"), [
    ("ra", "ra"), ("g_mag", "g_mag"), ("select", '"select"'), ("Dec", "Dec"),
    ("two words", '"two words"'), ('a"b', '"a""b"'), ("_x", '"_x"'),
])
def test_identifier_quotes_only_what_needs_it(name, expected):
    assert adql.identifier(name) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (1, "1"), (-2.5, "-2.5"), ("x", "'x'"), ("'; DROP TABLE t; --", "'''; DROP TABLE t; --'"),
    (None, "NULL"), (True, "1"),
])
def test_literal_escapes_values(value, expected):
    assert adql.literal(value) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), object(), "a\x00b"])
def test_literal_refuses_what_it_cannot_write_safely(bad):
    with pytest.raises(QueryRejected):
        adql.literal(bad)


def test_cone_query_quotes_columns_and_checks_radius():
    text = adql.cone_query("s.t", "ra", "select", ra_deg=1.0, dec_deg=2.0, radius_deg=0.5,
                           columns=["id", "from"], top=5)
    assert text.startswith('SELECT TOP 5 id, "from" FROM s.t WHERE')
    assert "POINT('ICRS', ra, \"select\")" in text
    with pytest.raises(QueryRejected, match="Radius"):
        adql.cone_query("s.t", "ra", "dec", ra_deg=1.0, dec_deg=2.0, radius_deg=-1.0)
    with pytest.raises(QueryRejected, match="dec"):
        adql.cone_query("s.t", "ra", "dec", ra_deg=1.0, dec_deg=95.0, radius_deg=1.0)


def test_table_name_rejects_empty_parts():
    with pytest.raises(QueryRejected):
        adql.table_name("a..b")
