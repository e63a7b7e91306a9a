"""Checks on a parsed ADQL tree: allowed nodes and functions, reserved words, structure."""

from __future__ import annotations

import re

from sqlglot import exp

from engine.adql import nodes
from engine.adql.dialect import ADQL_FUNCTIONS
from engine.adql.grammar import (
    ALLOWED_ARGS,
    JOIN_KINDS,
    JOIN_METHODS,
    JOIN_SIDES,
    construct_name,
)
from engine.adql.walk import all_nodes
from engine.errors import AdqlError, AdqlSyntaxError, UnsupportedQueryError, suggest

_RESERVED_TEXT = """
    ABS ACOS AREA ASIN ATAN ATAN2 BIT_AND BIT_NOT BIT_OR BIT_XOR BOX CEILING CENTROID CIRCLE
    CONTAINS COORD1 COORD2 COORDSYS COS COT DEGREES DISTANCE EXP FLOOR ILIKE INTERSECTS
    IN_UNIT LOG LOG10 MOD PI POINT POLYGON POWER RADIANS REGION RAND ROUND SIN SQRT TAN TOP
    TRUNCATE ABSOLUTE ACTION ADD ALL ALLOCATE ALTER AND ANY ARE AS ASC ASSERTION AT
    AUTHORIZATION AVG BEGIN BETWEEN BIT BIT_LENGTH BOTH BY CASCADE CASCADED CASE CAST
    CATALOG CHAR CHARACTER CHAR_LENGTH CHARACTER_LENGTH CHECK CLOSE COALESCE COLLATE
    COLLATION COLUMN COMMIT CONNECT CONNECTION CONSTRAINT CONSTRAINTS CONTINUE CONVERT
    CORRESPONDING COUNT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP
    CURRENT_USER CURSOR DATE DAY DEALLOCATE DECIMAL DECLARE DEFAULT DEFERRABLE DEFERRED
    DELETE DESC DESCRIBE DESCRIPTOR DIAGNOSTICS DISCONNECT DISTINCT DOMAIN DOUBLE DROP ELSE
    END END-EXEC ESCAPE EXCEPT EXCEPTION EXEC EXECUTE EXISTS EXTERNAL EXTRACT FALSE FETCH
    FIRST FLOAT FOR FOREIGN FOUND FROM FULL GET GLOBAL GO GOTO GRANT GROUP HAVING HOUR
    IDENTITY IMMEDIATE IN INDICATOR INITIALLY INNER INPUT INSENSITIVE INSERT INT INTEGER
    INTERSECT INTERVAL INTO IS ISOLATION JOIN KEY LANGUAGE LAST LEADING LEFT LEVEL LIKE
    LOCAL LOWER MATCH MAX MIN MINUTE MODULE MONTH NAMES NATIONAL NATURAL NCHAR NEXT NO NOT
    NULL NULLIF NUMERIC OCTET_LENGTH OF OFFSET ON ONLY OPEN OPTION OR ORDER OUTER OUTPUT
    OVERLAPS PAD PARTIAL POSITION PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVILEGES
    PROCEDURE PUBLIC READ REAL REFERENCES RELATIVE RESTRICT REVOKE RIGHT ROLLBACK ROWS
    SCHEMA SCROLL SECOND SECTION SELECT SESSION SESSION_USER SET SIZE SMALLINT SOME SPACE
    SQL SQLCODE SQLERROR SQLSTATE SUBSTRING SUM SYSTEM_USER TABLE TEMPORARY THEN TIME
    TIMESTAMP TIMEZONE_HOUR TIMEZONE_MINUTE TO TRAILING TRANSACTION TRANSLATE TRANSLATION
    TRIM TRUE UNION UNIQUE UNKNOWN UPDATE UPPER USAGE USER USING VALUE VALUES VARCHAR
    VARYING VIEW WHEN WHENEVER WHERE WITH WORK WRITE YEAR ZONE
"""

ADQL_RESERVED = frozenset(_RESERVED_TEXT.split())
"""ADQL 2.1 §2.1.3 reserved words (SQL-92 plus ADQL's own): unquoted, they cannot name a
table, column or alias."""

ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(ALLOWED_ARGS)
"""Every node class a validated tree may contain; anything else (placeholders, vendor
functions, DDL...) is refused, so nothing outside ADQL can reach DuckDB."""

ADQL_TYPES = frozenset(
    {
        exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
        exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE, exp.DataType.Type.CHAR,
        exp.DataType.Type.VARCHAR, exp.DataType.Type.TIMESTAMP,
    }
)
GEOMETRY_CAST_TYPES = frozenset({"POINT", "CIRCLE", "POLYGON"})
_TYPE_NAMES = "SMALLINT, INTEGER, BIGINT, REAL, DOUBLE PRECISION, CHAR(n), VARCHAR(n), TIMESTAMP"
_PREDICATES = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Like, exp.ILike,
    exp.In, exp.Is, exp.Exists, exp.Boolean,
)


def _position(node: exp.Expr) -> tuple[int, int]:
    for candidate in (node, *node.find_all(exp.Identifier)):
        meta = candidate.meta
        if "line" in meta:
            return int(meta["line"]), max(1, int(meta["col"]) - len(candidate.name) + 1)
    return 1, 1


class _Invalid(Exception):  # noqa: N818 - internal, turned into AdqlSyntaxError by validate()
    def __init__(self, message: str, line: int, col: int, keyword: str = "") -> None:
        super().__init__(message)
        self.message, self.line, self.col, self.keyword = message, line, col, keyword


def _fail(message: str, node: exp.Expr, keyword: str = "") -> _Invalid:
    line, col = _position(node)
    return _Invalid(message, line, col, keyword)


def _keyword_position(text: str, keyword: str) -> tuple[int, int] | None:
    """Line and column of the first ``keyword`` in ``text`` (outside strings and comments)."""
    words = keyword.split()
    if not text or not words or not words[0][:1].isalpha():
        return None
    pattern = re.compile(r"'[^']*'|\"[^\"]*\"|--[^\n]*|/\*.*?\*/|\b" + re.escape(words[0]) + r"\b",
                         re.IGNORECASE | re.DOTALL)
    for match in pattern.finditer(text):
        if match.group()[:1].isalpha():
            before = text[: match.start()]
            return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1
    return None


_SNIPPET_CHARS = 100
"""Longest part of a query line shown under an error (a query may be one 1 MB line)."""


def locate_name(text: str, name: str) -> tuple[int, int] | None:
    r"""Return the 1-based line and column of ``name``'s first use as a word in ``text``.

    Case-insensitive (ADQL's regular identifiers are), skipping string literals and quoted
    identifiers that merely contain it. None when it does not occur.

    Examples
    --------
    >>> locate_name("SELECT 'rra', rra\nFROM t", "RRA")
    (1, 15)
    """
    pattern = re.compile(rf"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\b{re.escape(name)}\b", re.I)
    for found in pattern.finditer(text):
        if found.group(0)[0] in "'\"":
            continue
        before = text[:found.start()]
        return before.count("\n") + 1, found.start() - (before.rfind("\n") + 1) + 1
    return None


def snippet(text: str, line: int, col: int) -> str:
    r"""Return the query line ``line`` with a caret under column ``col`` (both 1-based).

    Long lines are cut to about :data:`_SNIPPET_CHARS` characters around the column.

    Examples
    --------
    >>> print(snippet("SELECT a\nFROM t WHERE", 2, 8))
      FROM t WHERE
             ^
    """
    if not text:
        return ""
    lines = text.splitlines() or [""]
    shown = lines[min(line, len(lines)) - 1]
    offset = col - 1
    if len(shown) > _SNIPPET_CHARS:
        start = max(0, offset - _SNIPPET_CHARS // 2)
        head = "..." if start else ""
        tail = "..." if start + _SNIPPET_CHARS < len(shown) else ""
        shown = head + shown[start : start + _SNIPPET_CHARS] + tail
        offset = offset - start + len(head)
    return f"  {shown}\n  {' ' * offset}^"


def is_predicate(node: exp.Expr) -> bool:
    """Return whether ``node`` is a boolean condition (ADQL has no boolean-valued columns)."""
    if isinstance(node, exp.Paren):
        return is_predicate(node.this)
    if isinstance(node, (exp.And, exp.Or)):
        return is_predicate(node.this) and is_predicate(node.expression)
    if isinstance(node, exp.Not):
        return is_predicate(node.this)
    return isinstance(node, _PREDICATES)


def validate(tree: exp.Expr, text: str = "") -> None:
    """Refuse anything in ``tree`` that is not ADQL this engine runs.

    Parameters
    ----------
    tree
        A single statement from the ADQL parser.
    text
        The query text, to show where the problem is.

    Raises
    ------
    AdqlSyntaxError
        Invalid ADQL (reserved word as a name, bad TOP/OFFSET, non-boolean WHERE...).
    UnsupportedQueryError
        Functions outside ADQL (user-defined or vendor functions).
    """
    if not isinstance(tree, exp.Query):
        raise AdqlError(
            f"Only a single SELECT query is accepted, not {tree.key.upper()}; "
            "write SELECT ... FROM ..."
        )
    try:
        for node in all_nodes(tree):
            _check_node(node, tree)
    except _Invalid as exc:
        line, col = _keyword_position(text, exc.keyword) or (exc.line, exc.col)
        raise AdqlSyntaxError(
            exc.message, line=line, col=col, snippet=snippet(text, line, col)
        ) from None


def _check_node(node: exp.Expr, root: exp.Expr) -> None:
    if isinstance(node, exp.Anonymous):
        name = node.name.upper()
        raise UnsupportedQueryError(
            f"Function '{node.name}' is not an ADQL function supported here "
            f"(user-defined functions are not available).{suggest(name, ADQL_FUNCTIONS)}"
        )
    if type(node) not in ALLOWED_NODES:
        _refuse_node(node)
    _check_args(node)
    if isinstance(node, exp.Identifier) and not node.quoted:
        _check_identifier(node)
    elif isinstance(node, exp.Select):
        _check_select(node)
    elif isinstance(node, exp.With) and node.parent is not root:
        raise _fail("WITH is only allowed at the start of the whole query", node)
    elif isinstance(node, exp.Subquery) and isinstance(node.parent, (exp.From, exp.Join)):
        if not node.alias and isinstance(node.this, exp.Query):
            raise _fail("A subquery in FROM needs a name: add AS name after ')'", node)
    elif isinstance(node, (exp.Where, exp.Having)):
        _check_condition(node.this, node.key.upper())
    elif isinstance(node, exp.Join) and node.args.get("on") is not None:
        _check_condition(node.args["on"], "ON")
    elif isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null):
        raise _fail("IS must be followed by NULL or NOT NULL", node)
    elif isinstance(node, exp.In) and not (node.expressions or node.args.get("query")):
        raise _fail("IN needs a parenthesised list or subquery: x IN (1, 2)", node)
    elif isinstance(node, exp.DataType):
        _check_type(node)
    elif isinstance(node, (exp.DPipe, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Like)):
        for side in (node.this, node.expression):
            if isinstance(side, nodes.GEOMETRY_TYPES):
                raise _fail(f"A geometry cannot be an operand of {node.key.upper()}", side)
    elif isinstance(node, exp.Column) and isinstance(node.parent, exp.Dot):
        raise _fail("Too many name parts: use [schema.]table.column", node)
    elif isinstance(node, exp.Table):
        _check_table(node)


_PATH_CHARACTERS = frozenset("/\\:.*?~$")


def _check_table(node: exp.Table) -> None:
    if isinstance(node.this, exp.Dot):
        raise _fail("Too many name parts in a table name: use schema.table", node)
    for part in node.parts:
        if _PATH_CHARACTERS & set(part.name):
            raise _fail(
                f"Table name '{part.name}' looks like a file path; tables are named "
                "schema.table (see TAP_SCHEMA.tables)",
                node,
            )


def _not_adql(what: str, node: exp.Expr, hint: str = "") -> _Invalid:
    keyword = what if what[:1].isalpha() else ""
    message = f"{what} is not ADQL: the ADQL 2.1 grammar does not define it"
    return _fail(message + (f"; {hint}" if hint else ""), node, keyword)


_HINTS = {
    "EXCLUDE": "list the columns you want instead of *",
    "REPLACE": "list the columns, with the replaced expression AS its name",
    "WITH RECURSIVE": "ADQL allows only non-recursive WITH",
    "GROUP BY ALL": "list the grouping columns",
    "DISTINCT ON": "use GROUP BY",
    "NULLS FIRST": "ADQL sorts NULLs as the service does; filter them with IS NULL",
    "TRY_CAST": "write CAST(x AS type)",
}


_JOIN_FORMS = "ADQL joins are [NATURAL] [INNER | LEFT | RIGHT | FULL [OUTER]] JOIN"


def _check_args(node: exp.Expr) -> None:
    allowed = ALLOWED_ARGS[type(node)]
    for key, value in node.args.items():
        if key not in allowed and value is not None and value is not False and value != []:
            what = construct_name(node, key)
            raise _not_adql(what, node, _HINTS.get(what, ""))
    if isinstance(node, exp.Join):
        for key, allowed_values in (
            ("side", JOIN_SIDES), ("kind", JOIN_KINDS), ("method", JOIN_METHODS)
        ):
            value = str(node.args.get(key) or "").upper()
            if value and value not in allowed_values:
                raise _not_adql(construct_name(node, key), node, _JOIN_FORMS)
    elif isinstance(node, exp.If):
        if not isinstance(node.parent, exp.Case):
            raise _not_adql("IF", node, "write CASE WHEN ... THEN ... ELSE ... END")
        if node.parent.this is None:
            _check_condition(node.this, "WHEN")


def _refuse_node(node: exp.Expr) -> None:
    if isinstance(node, exp.Func):
        name = node.sql_name() if hasattr(node, "sql_name") else node.key.upper()
        raise UnsupportedQueryError(
            f"Function '{name}' is not an ADQL function.{suggest(name, ADQL_FUNCTIONS)}"
        )
    if isinstance(node, (exp.Placeholder, exp.Parameter)):
        raise _fail("Query parameters (?, $1, :name) are not ADQL", node)
    raise _not_adql(construct_name(node), node)


def _check_identifier(node: exp.Identifier) -> None:
    name = node.name
    if name.upper() in ADQL_RESERVED:
        raise _fail(
            f"'{name}' is an ADQL reserved word; write it in double quotes (\"{name}\") "
            "to use it as a name",
            node,
        )
    if not name[:1].isalpha():
        raise _fail(
            f"Name '{name}' must start with a letter; write it in double quotes (\"{name}\")",
            node,
        )


def _check_select(node: exp.Select) -> None:
    if not node.args.get("from_"):
        raise _fail("SELECT needs a FROM clause: SELECT ... FROM schema.table", node)
    if not node.expressions:
        raise _fail("SELECT needs at least one column or *", node)
    limit, offset = node.args.get("limit"), node.args.get("offset")
    if limit is not None:
        _check_count(limit.expression, "TOP", node)
    if offset is not None:
        _check_count(offset.expression, "OFFSET", node)


def _check_count(value: exp.Expr | None, what: str, where: exp.Expr) -> None:
    if not (isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit()):
        shown = value.sql() if value is not None else ""
        raise _fail(f"{what} needs a non-negative integer, not '{shown}'", where)


def _check_condition(node: exp.Expr, clause: str) -> None:
    if is_predicate(node):
        return
    if isinstance(node, (nodes.Contains, nodes.Intersects)):
        name = node.key.upper()
        raise _fail(f"{name}(...) returns 1 or 0: write {name}(...) = 1 in {clause}", node)
    raise _fail(f"{clause} needs a condition (a comparison), not '{node.sql()[:60]}'", node)


def _check_type(node: exp.DataType) -> None:
    if node.this in ADQL_TYPES:
        return
    kind = str(node.args.get("kind") or node.this.value).upper()
    if node.this == exp.DataType.Type.USERDEFINED and kind in GEOMETRY_CAST_TYPES:
        return
    raise _fail(f"Unknown type '{kind}' in CAST; ADQL types are {_TYPE_NAMES}", node)
