"""Pure helpers the planner uses to inspect a parsed ADQL tree."""

from __future__ import annotations

from sqlglot import exp

from engine.adql.walk import find_all_dfs


def table_refs(tree: exp.Expr) -> list[exp.Table]:
    """Return every table reference in ``tree`` (subqueries included), excluding CTE names.

    Parameters
    ----------
    tree
        A tree from :func:`engine.adql.parse.parse_adql`.

    Returns
    -------
    list of exp.Table
        In query order; ``db`` is the schema, ``this`` the table, ``alias`` the alias.

    Examples
    --------
    >>> from engine.adql.parse import parse_adql
    >>> q = "WITH c AS (SELECT * FROM dp1.source) SELECT * FROM dp1.object AS o, c"
    >>> [t.sql() for t in table_refs(parse_adql(q))]
    ['dp1.object AS o', 'dp1.source']
    """
    found = find_all_dfs(tree, (exp.CTE, exp.Table))  # one walk for both
    ctes = {cte.alias_or_name for cte in found if isinstance(cte, exp.CTE)}
    return [
        t
        for t in found
        if isinstance(t, exp.Table) and not (not t.db and t.name in ctes)
    ]
