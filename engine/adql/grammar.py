"""What ADQL 2.1 allows where: tree nodes with their arguments, and the lexicon of tokens.

sqlglot's parser understands many dialects at once, so a tree from it may hold DuckDB or
other vendor syntax (``* EXCLUDE (...)``, ``ASOF JOIN``, ``QUALIFY``, ``WITH RECURSIVE``...)
that ADQL does not define. Validation therefore checks the tree against an allow-list:
:data:`ALLOWED_ARGS` names every node class a valid ADQL tree may contain and, for each,
the arguments that ADQL syntax can fill. Anything else is refused, named by
:func:`construct_name`. Constructs that leave no trace in the tree (a FROM-first query,
``[1, 2]`` for ``(1, 2)``, ``NULLS LAST``, ``ISNULL``) are refused at the token level by
:func:`engine.adql.parse.parse_adql` with :data:`PUNCTUATION` and :data:`VENDOR_OPERATORS`.

The reference is the BNF of the ADQL 2.1 Recommendation (ivoa-std/ADQL ``adql.bnf``).
Beyond it, :data:`EXTENSIONS` lists what is accepted on purpose.
"""

from __future__ import annotations

import re

from sqlglot import exp

from engine.adql import nodes

EXTENSIONS = (
    "CASE ... WHEN ... THEN ... ELSE ... END, NULLIF, TRIM, SUBSTRING, POSITION, "
    "CHAR_LENGTH, CHARACTER_LENGTH, OCTET_LENGTH and CROSS JOIN (SQL-92, whose words ADQL "
    "reserves); BIT_AND, BIT_OR, BIT_XOR, BIT_NOT (ADQL 2.1 drafts); the % operator (used "
    "by the ADQL 2.1 text itself); /* */ comments and 'a' 'b' string continuation (SQL)."
)
"""Accepted although the ADQL 2.1 BNF does not define them: each means the same in every SQL
engine, so no query changes meaning. Operators whose meaning differs between engines
(``^`` is XOR in one and a power in another) are refused rather than guessed."""

_BINARY = frozenset({"this", "expression"})
_UNARY = frozenset({"this"})
_SET_OPERATION = frozenset({"this", "expression", "distinct", "order", "offset", "with_"})

ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    # query structure
    exp.Select: frozenset(
        {"with_", "distinct", "limit", "expressions", "from_", "joins", "where", "group",
         "having", "order", "offset"}
    ),
    exp.Union: _SET_OPERATION,
    exp.Intersect: _SET_OPERATION,
    exp.Except: _SET_OPERATION,
    exp.Subquery: frozenset({"this", "alias"}),
    exp.With: frozenset({"expressions"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.From: _UNARY,
    exp.Join: frozenset({"this", "on", "using", "side", "kind", "method"}),
    exp.Table: frozenset({"this", "db", "catalog", "alias", "joins"}),
    exp.TableAlias: _UNARY,
    exp.Where: _UNARY,
    exp.Group: frozenset({"expressions"}),
    exp.Having: _UNARY,
    exp.Order: frozenset({"expressions"}),
    exp.Ordered: frozenset({"this", "desc"}),
    exp.Limit: frozenset({"expression"}),
    exp.Offset: frozenset({"expression"}),
    exp.Distinct: frozenset({"expressions"}),
    # names and values
    exp.Column: frozenset({"this", "table", "db", "catalog"}),
    exp.Identifier: frozenset({"this", "quoted"}),
    exp.Star: frozenset(),
    exp.Alias: frozenset({"this", "alias"}),
    exp.Paren: _UNARY,
    exp.Literal: frozenset({"this", "is_string"}),
    exp.Null: frozenset(),
    # predicates and operators
    exp.EQ: _BINARY, exp.NEQ: _BINARY, exp.GT: _BINARY, exp.GTE: _BINARY,
    exp.LT: _BINARY, exp.LTE: _BINARY,
    exp.Like: frozenset({"this", "expression", "negate"}),
    exp.ILike: frozenset({"this", "expression", "negate"}),
    exp.Between: frozenset({"this", "low", "high"}),
    exp.In: frozenset({"this", "expressions", "query"}),
    exp.Is: _BINARY,
    exp.Exists: _UNARY,
    exp.Not: _UNARY, exp.And: _BINARY, exp.Or: _BINARY,
    exp.Neg: _UNARY, exp.Add: _BINARY, exp.Sub: _BINARY, exp.Mul: _BINARY, exp.Div: _BINARY,
    exp.Mod: _BINARY,
    exp.DPipe: frozenset({"this", "expression", "safe"}),
    exp.Cast: frozenset({"this", "to"}),
    exp.DataType: frozenset({"this", "expressions", "kind"}),
    exp.DataTypeParam: _UNARY,
    # SQL-92 extensions (see EXTENSIONS)
    exp.Case: frozenset({"this", "ifs", "default"}),
    exp.If: frozenset({"this", "true"}),
    exp.Trim: frozenset({"this", "expression", "position"}),
    exp.Substring: frozenset({"this", "start", "length"}),
    exp.StrPosition: frozenset({"this", "substr"}),
    exp.Length: _UNARY,
    exp.Nullif: _BINARY,
    exp.BitwiseAnd: _BINARY, exp.BitwiseOr: _BINARY, exp.BitwiseXor: _BINARY,
    exp.BitwiseNot: _UNARY,
    # ADQL functions, as built by engine.adql.dialect.ADQL_FUNCTIONS
    **dict.fromkeys(
        (exp.Abs, exp.Ceil, exp.Degrees, exp.Exp, exp.Floor, exp.Ln, exp.Radians, exp.Sqrt,
         exp.Sin, exp.Cos, exp.Tan, exp.Cot, exp.Asin, exp.Acos, exp.Atan, exp.Count, exp.Avg,
         exp.Min, exp.Max, exp.Sum, exp.Lower, exp.Upper, exp.Rand),
        _UNARY,
    ),
    exp.Pi: frozenset(),
    exp.Log: _BINARY, exp.Pow: _BINARY, exp.Atan2: _BINARY,
    exp.Round: frozenset({"this", "decimals"}),
    exp.Coalesce: frozenset({"this", "expressions"}),
    **{
        cls: frozenset(cls.arg_types)
        for cls in (
            nodes.Point, nodes.Circle, nodes.Box, nodes.Polygon, nodes.Contains,
            nodes.Intersects, nodes.Distance, nodes.Area, nodes.Centroid, nodes.Coord1,
            nodes.Coord2, nodes.CoordSys, nodes.Region, nodes.InUnit, nodes.Truncate,
            nodes.OctetLength,
        )
    },
}
"""Every node class an ADQL tree may hold, with the arguments ADQL syntax can set on it."""

JOIN_SIDES = frozenset({"LEFT", "RIGHT", "FULL"})
JOIN_KINDS = frozenset({"INNER", "OUTER", "CROSS"})
JOIN_METHODS = frozenset({"NATURAL"})

PUNCTUATION = frozenset(
    {"(", ")", ",", ".", "*", "+", "-", "/", "=", "<>", "!=", "<", ">", "<=", ">=", "||", ";",
     "%"}
)
"""Every operator and delimiter of ADQL 2.1 (plus ``%``); any other symbol is refused."""

VENDOR_OPERATORS = {
    "::": "write CAST(x AS type)",
    "**": "write POWER(x, y)",
    "//": "write FLOOR(x / y)",
    "->": "ADQL has no lambda functions",
    "->>": "ADQL has no JSON operators",
    "==": "write =",
    "<=>": "write (a = b OR (a IS NULL AND b IS NULL))",
    "<<": "ADQL has no bit shifts",
    ">>": "ADQL has no bit shifts",
    ":=": "ADQL has no named arguments",
    "^": "write POWER(x, y) or BIT_XOR(x, y)",
    "&": "write BIT_AND(x, y)",
    "|": "write BIT_OR(x, y)",
    "~": "write BIT_NOT(x)",
    "!": "write NOT",
    "[": "write a list as (a, b) after IN; ADQL has no arrays or subscripts",
    "{": "ADQL has no struct or map values",
    "?": "ADQL has no query parameters",
    "$": "ADQL has no query parameters",
    "@": "ADQL has no variables or parameters",
    ":": "ADQL has no parameters or slices",
    "#": "ADQL has no positional references",
}
"""Symbols (alone, or run together without blanks) that other SQL dialects give a meaning,
with what to write in ADQL instead."""

NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
"""ADQL 2.1 unsigned numeric literal: ``12``, ``12.``, ``12.3``, ``.5``, ``1.2E-3``."""

REGULAR_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
"""ADQL 2.1 regular (undelimited) identifier: simple Latin letters, digits, underscore."""

_ARG_NAMES: dict[tuple[type[exp.Expr], str | None], str] = {
    (exp.Star, "except_"): "EXCLUDE",
    (exp.Star, "replace"): "REPLACE",
    (exp.Star, "rename"): "RENAME",
    (exp.Star, "ilike"): "* ILIKE",
    (exp.With, "recursive"): "WITH RECURSIVE",
    (exp.Group, "all"): "GROUP BY ALL",
    (exp.Group, "cube"): "GROUP BY CUBE",
    (exp.Group, "rollup"): "GROUP BY ROLLUP",
    (exp.Group, "grouping_sets"): "GROUPING SETS",
    (exp.Distinct, "on"): "DISTINCT ON",
    (exp.Ordered, "nulls_first"): "NULLS FIRST",
    (exp.Between, "symmetric"): "BETWEEN SYMMETRIC",
    (exp.TableAlias, "columns"): "a column list after a table alias",
    (exp.CTE, "materialized"): "MATERIALIZED",
    (exp.Cast, "safe"): "TRY_CAST",
    (exp.Cast, "format"): "CAST ... FORMAT",
    (exp.SetOperation, "by_name"): "BY NAME",
    (exp.In, "field"): "IN without parentheses",
    (exp.Select, "locks"): "FOR UPDATE",
    (exp.In, "unnest"): "IN UNNEST",
}

_NODE_NAMES: dict[type[exp.Expr], str] = {
    exp.Tuple: "A row value (a, b, ...)",
    exp.GroupingSets: "GROUPING SETS",
    exp.Lock: "FOR UPDATE",
    exp.Hint: "A table hint",
}


def construct_name(node: exp.Expr, arg: str | None = None) -> str:
    """Name, in SQL words, the construct that ``node`` (or its argument ``arg``) stands for.

    Parameters
    ----------
    node
        A node of a parsed tree.
    arg
        One of its arguments that ADQL does not allow, or ``None`` for the node itself.

    Returns
    -------
    str
        For example ``EXCLUDE``, ``ASOF JOIN``, ``QUALIFY``.

    Examples
    --------
    >>> construct_name(exp.Star(), "except_")
    'EXCLUDE'
    >>> construct_name(exp.Join(kind="ASOF"), "kind")
    'ASOF JOIN'
    >>> construct_name(exp.Select(), "qualify")
    'QUALIFY'
    """
    for cls in type(node).__mro__:
        if (cls, arg) in _ARG_NAMES:
            return _ARG_NAMES[(cls, arg)]
    if isinstance(node, exp.Join) and arg in ("kind", "side", "method"):
        return f"{node.args[arg]} JOIN".upper()
    if isinstance(node, exp.SetOperation) and arg in ("kind", "side"):
        return f"{node.args[arg]} {node.key}".upper()
    if arg is not None:
        return arg.rstrip("_").replace("_", " ").upper()
    if isinstance(node, exp.Boolean):
        return "TRUE" if node.this else "FALSE"
    if type(node) in _NODE_NAMES:
        return _NODE_NAMES[type(node)]
    if isinstance(node, exp.Func):
        return f"{node.sql_name()}()"
    return node.key.upper()
