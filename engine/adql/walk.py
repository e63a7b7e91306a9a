"""Walks over a sqlglot tree, as lists: the nodes ``Expr.find_all`` gives, in its order.

Planning a small query walked its tree some twenty times; sqlglot's ``walk`` is a chain of
generators (``find_all`` -> ``walk`` -> ``bfs`` -> ``iter_expressions``) and a plain loop
over each node's ``args`` takes half the time. The order is sqlglot's own (breadth-first,
or depth-first as ``find_all(..., bfs=False)``), so replacing one by the other changes
nothing a caller sees. The list is made before the caller looks at it: a caller changing
the tree while it loops sees the nodes as they were when the walk was made.
"""

from __future__ import annotations

from typing import TypeVar

from sqlglot import exp

E = TypeVar("E", bound=exp.Expr)


def all_nodes(tree: exp.Expr) -> list[exp.Expr]:
    """Every node of ``tree``, breadth-first (``tree.walk()``'s order).

    Examples
    --------
    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT a, b + 1 FROM t WHERE c > 2")
    >>> all_nodes(tree) == list(tree.walk())
    True
    """
    found = [tree]
    index = 0
    while index < len(found):
        for value in found[index].args.values():
            if isinstance(value, list):
                found.extend(v for v in value if isinstance(v, exp.Expr))
            elif isinstance(value, exp.Expr):
                found.append(value)
        index += 1
    return found


def find_all(tree: exp.Expr, kind: type[E] | tuple[type[E], ...]) -> list[E]:
    """The nodes of ``tree`` of ``kind``, breadth-first (``tree.find_all(kind)``'s order)."""
    return [n for n in all_nodes(tree) if isinstance(n, kind)]  # type: ignore[misc]


def find_all_dfs(tree: exp.Expr, kind: type[E] | tuple[type[E], ...]) -> list[E]:
    """The nodes of ``tree`` of ``kind``, depth-first (``find_all(kind, bfs=False)``'s order).

    Examples
    --------
    >>> import sqlglot
    >>> tree = sqlglot.parse_one("SELECT x.a FROM (SELECT a FROM s) AS x JOIN t ON t.a = x.a")
    >>> find_all_dfs(tree, exp.Table) == list(tree.find_all(exp.Table, bfs=False))
    True
    """
    found: list[E] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, kind):
            found.append(node)  # type: ignore[arg-type]
        for value in reversed(node.args.values()):
            if isinstance(value, list):
                stack.extend(v for v in reversed(value) if isinstance(v, exp.Expr))
            elif isinstance(value, exp.Expr):
                stack.append(value)
    return found
