"""Emit ADQL text from a parsed tree (:func:`to_adql`), for clients and logs."""

from __future__ import annotations

from sqlglot import exp

from engine.adql.dialect import ADQL

_DIALECT = ADQL()


def to_adql(tree: exp.Expr, *, pretty: bool = False) -> str:
    """Return ADQL 2.1 text that :func:`engine.adql.parse.parse_adql` reads back as ``tree``.

    Parameters
    ----------
    tree
        A tree from :func:`engine.adql.parse.parse_adql`.
    pretty
        Indent over several lines.

    Returns
    -------
    str
        The query text (``TOP n``, ``POINT(...)``, ``LOG10``... spelled as in ADQL).

    Examples
    --------
    >>> from engine.adql.parse import parse_adql
    >>> to_adql(parse_adql("select top 5 RA from T where contains(point(ra, dec), p) = 1"))
    'SELECT TOP 5 ra FROM t WHERE CONTAINS(POINT(ra, dec), p) = 1'
    """
    return _DIALECT.generate(tree, pretty=pretty, comments=False)
