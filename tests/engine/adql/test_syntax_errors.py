"""Syntax errors say what was expected in ADQL words, with line, column and a caret."""

from __future__ import annotations

import re

import pytest

from engine.adql.parse import parse_adql
from engine.errors import AdqlError, AdqlSyntaxError

from .test_lyonetia import QUERIES

INTERNALS = re.compile(r"Token|TokenType|<class|sqlglot|Required keyword|SENTINEL|expressions\.")
"""Words of the parser's own classes that must never reach a user."""


@pytest.mark.parametrize(
    ("adql", "message", "line", "col"),
    [
        ("SELECT *\nFROM WHERE x = 1", "Expected a table name, found 'WHERE'", 2, 6),
        ("SELECT a FROM t JOIN", "The query ends after 'JOIN'", 1, 17),
        ("SELECT a FROM t.", "Expected a table name, found the end of the query", 1, 16),
        ("SELECT a FROM t WHERE a =", "Expected a value after '=', found", 1, 25),
        ("SELECT a FROM t\nWHERE a = 1 AND", "The query ends after 'AND'", 2, 13),
        ("SELECT a FROM t WHERE a = 1 AND ORDER BY a", "Expected a condition after 'AND'", 1, 33),
        ("SELECT a + FROM t", "Expected a value after '\\+'", 1, 12),
        ("SELECT a FROM t WHERE a BETWEEN 1 ORDER BY a", "Expected AND and an upper bound", 1, 35),
        ("SELECT TOP FROM t", "Expected a number after 'TOP'", 1, 12),
        ("SELECT a FROM t WHERE a IN (1", "Expected '\\)'.*unbalanced parentheses", 1, 29),
        ("SELECT CAST(a AS) FROM t", "Expected an ADQL type after AS in CAST", 1, 17),
        ("WITH x AS (SELECT a FROM t)", "must be followed by SELECT", 1, 27),
        ("SELECT a FROM t UNION ORDER BY a", "Expected a SELECT after 'UNION'", 1, 23),
        ("SELECT a FROM t ORDER BY", "The query ends after 'ORDER BY'", 1, 17),
    ],
)
def test_syntax_error_says_what_was_expected_in_adql_words(
    adql: str, message: str, line: int, col: int
) -> None:
    with pytest.raises(AdqlSyntaxError, match=message) as info:
        parse_adql(adql)
    err = info.value
    assert not INTERNALS.search(str(err)), str(err)
    assert (err.line, err.col) == (line, col), str(err)
    shown, caret = err.snippet.splitlines()
    assert shown.strip() == adql.splitlines()[line - 1].strip()
    assert caret.rstrip().endswith("^")


INVALID = [(key, text) for key, text, valid in QUERIES if not valid]


def _refusal(text: str) -> str:
    try:
        parse_adql(text)
    except AdqlError as exc:
        return str(exc)
    return ""


@pytest.mark.parametrize(("key", "text"), INVALID, ids=[k for k, _ in INVALID])
def test_no_refusal_of_an_invalid_lyonetia_query_shows_parser_internals(key: str,
                                                                        text: str) -> None:
    message = _refusal(text)
    assert not INTERNALS.search(message), message
