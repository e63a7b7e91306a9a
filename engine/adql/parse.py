"""Parse ADQL 2.1 text into a validated sqlglot tree (:func:`parse_adql`)."""

from __future__ import annotations

import re

from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from engine.adql.dialect import ADQL
from engine.adql.lexicon import (  # noqa: F401 - MAX_NESTING_DEPTH is re-exported
    MAX_NESTING_DEPTH,
    check_lexicon,
    check_nesting,
    check_paren_depth,
    check_tokens,
    too_deep,
)
from engine.adql.templates import ParseTemplates
from engine.adql.validate import ADQL_RESERVED, snippet, validate
from engine.adql.walk import all_nodes, find_all
from engine.errors import AdqlError, AdqlSyntaxError

MAX_QUERY_CHARS = 1_000_000
"""Longer texts are refused before tokenizing: no legitimate ADQL query is this big."""

MAX_TREE_DEPTH = 200
"""Deepest parsed tree accepted: long chains of ``+``, ``||`` or ``UNION`` nest one level per
operator, and later stages walk the tree recursively. Chains of AND/OR are rebalanced
first (``a OR b OR c ...`` of any length stays shallow)."""

_DIALECT = ADQL()

TEMPLATES = ParseTemplates()
"""Parsed trees by query shape: a query of a known shape skips the parser."""


def parse_adql(text: str) -> exp.Query:
    """Parse one ADQL query.

    Regular identifiers are folded to lower case; ``"delimited"`` ones are kept exactly.
    Comments are dropped. Geometry functions become :mod:`engine.adql.nodes` classes.

    Parameters
    ----------
    text
        The ADQL query; one trailing ``;`` is tolerated.

    Returns
    -------
    exp.Query
        A ``Select`` or a set operation (``Union``/``Intersect``/``Except``).

    Raises
    ------
    AdqlSyntaxError
        The text is not valid ADQL (with 1-based line/column and a caret snippet).
    UnsupportedQueryError
        Valid ADQL that is refused (user-defined functions, ``REGION``...).
    AdqlError
        Not a single SELECT statement.

    Examples
    --------
    >>> parse_adql("SELECT TOP 3 RA FROM dp1.Object").sql(dialect="duckdb")
    'SELECT ra FROM dp1.object LIMIT 3'
    """
    if len(text) > MAX_QUERY_CHARS:
        raise AdqlError(
            f"The query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}."
        )
    check_paren_depth(text)
    try:
        # A tokenizer per query: it keeps the text and position being read in itself, so
        # one shared by concurrent queries gave a thread another query's tokens.
        tokens = _DIALECT.tokenizer_class(dialect=_DIALECT).tokenize(text)
    except TokenError as exc:
        line, col = _line_col_of_error(str(exc), text)
        raise AdqlSyntaxError(
            "Unterminated string, quoted name or comment", line=line, col=col,
            snippet=snippet(text, line, col),
        ) from exc
    tokens = check_tokens(tokens, text)
    if not tokens:
        raise AdqlSyntaxError("Empty query; write SELECT ... FROM ...", line=1, col=1)
    check_lexicon(tokens, text)
    check_nesting(tokens, text)
    tree = TEMPLATES.parse(tokens, lambda: _parse_tokens(tokens, text))
    validate(tree, text)
    _normalize(tree)
    return tree  # type: ignore[return-value]


def _parse_tokens(tokens: list[Token], text: str) -> exp.Expr:
    """The tree of checked tokens, before validation (what a shape's template keeps)."""
    try:
        trees = _DIALECT.parser().parse(tokens, text)
    except ParseError as exc:
        raise _syntax_error(exc, text, tokens) from exc
    except RecursionError:  # a nesting the token check does not count (NOT NOT NOT ...)
        raise AdqlError(too_deep()) from None
    if len(trees) != 1 or trees[0] is None:
        raise AdqlError("Only a single SELECT query is accepted (several statements given)")
    tree = _unwrap(trees[0], text)
    _merge_adjacent_strings(tree)
    if _depth(tree) > _BALANCE_ABOVE:
        _balance_chains(tree)
        if _depth(tree) > MAX_TREE_DEPTH:
            raise AdqlError(
                f"The query's expressions nest more than {MAX_TREE_DEPTH} levels deep (long "
                "chains of +, || or UNION count one level per operator); split or simplify it"
            )
    return tree


def _line_col_of_error(message: str, text: str) -> tuple[int, int]:
    marker = "Line "
    if marker in message:
        try:
            rest = message.split(marker, 1)[1]
            line = int(rest.split(",", 1)[0])
            col = int(rest.split("Col: ", 1)[1].split(".", 1)[0])
            return line, col
        except (IndexError, ValueError):
            pass
    return 1, 1


_MISSING = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*\.(\w+)'>")
_TOKEN_REPR = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: .*?>")
_OPERATOR_WORDS = {
    "EQ": "=", "NEQ": "<>", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=", "Add": "+",
    "Sub": "-", "Mul": "*", "Div": "/", "Mod": "%", "DPipe": "||", "Neg": "-", "Limit": "TOP",
    "Order": "ORDER BY", "Group": "GROUP BY", "Paren": "(", "Alias": "AS",
}
_EXPECTED = {
    "Where": "a condition", "Having": "a condition", "And": "a condition",
    "Or": "a condition", "Not": "a condition", "Limit": "a number", "Offset": "a number",
    "Order": "a column or expression to sort by", "Group": "a column to group by",
    "Union": "a SELECT", "Intersect": "a SELECT", "Except": "a SELECT",
    "Between": "AND and an upper bound", "Like": "a pattern", "ILike": "a pattern",
    "Paren": "an expression", "Alias": "a name", "Cast": "AS and an ADQL type",
}
_PLAIN = {
    "Expecting )": "Expected ')'",
    "Expected TYPE after CAST": "Expected an ADQL type after AS in CAST",
    "Failed to parse any statement following CTE": "WITH ... AS (...) must be followed by SELECT",
}
_CLAUSE_WORDS = frozenset(
    {"SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "BY", "JOIN", "ON", "USING", "AND",
     "OR", "NOT", "AS", "UNION", "INTERSECT", "EXCEPT", "WITH", "TOP", "OFFSET", "DISTINCT",
     "IN", "IS", "LIKE", "ILIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "NULL"}
)


def _syntax_error(exc: ParseError, text: str, tokens: list[Token]) -> AdqlSyntaxError:
    """Say what was expected, in ADQL words, where (sqlglot's text names its own classes)."""
    err = exc.errors[0] if exc.errors else {}
    line, col = int(err.get("line") or 1), int(err.get("col") or 1)
    highlight = str(err.get("highlight") or "")
    col = max(1, col - len(highlight) + 1)
    message = _adql_words(str(err.get("description") or exc).split(". Line")[0], highlight)
    return AdqlSyntaxError(
        message + _hint(highlight, tokens),
        line=line, col=col, snippet=snippet(text, line, col),
    )


def _adql_words(message: str, highlight: str) -> str:
    found = f"'{highlight}'" if highlight else "the end of the query"
    if message.startswith("Invalid expression / Unexpected token"):
        return f"Unexpected {found}" if highlight else "Unexpected end of query"
    if missing := _MISSING.match(message):
        node = missing.group(2)
        what = _EXPECTED.get(node, "a value")
        word = _OPERATOR_WORDS.get(node, node.upper())
        return f"Expected {what} after '{word}', found {found}"
    message = _PLAIN.get(message, message)
    message = _TOKEN_REPR.sub(
        lambda m: "the end of the query" if m.group(1) == "SENTINEL" else f"'{m.group(2)}'",
        message,
    )
    message = message.replace("table name but got", "a table name, found")
    if any(internal in message for internal in ("<class", "TokenType", "sqlglot", "Token ")):
        return f"Syntax error at {found}"
    return message


def _hint(highlight: str, tokens: list[Token]) -> str:
    opened = sum(t.token_type == TokenType.L_PAREN for t in tokens)
    closed = sum(t.token_type == TokenType.R_PAREN for t in tokens)
    kinds = {t.token_type for t in tokens}
    word = highlight.upper()
    if opened != closed:
        return f" (unbalanced parentheses: {opened} '(' and {closed} ')')"
    if TokenType.SELECT in kinds and TokenType.FROM not in kinds:
        return " (missing FROM: SELECT columns FROM schema.table)"
    if word == "LIMIT":
        return " (ADQL uses SELECT TOP n instead of LIMIT n)"
    if word in ADQL_RESERVED and word not in _CLAUSE_WORDS:
        return f" ('{highlight}' is a reserved word: write \"{highlight}\" if it is a name)"
    return ""


def _unwrap(tree: exp.Expr, text: str) -> exp.Expr:
    """``(SELECT ...)`` is the query; ``(SELECT ...) ORDER BY x OFFSET n`` keeps its clauses."""
    while isinstance(tree, exp.Subquery) and not tree.alias and isinstance(tree.this, exp.Query):
        outer = {k: tree.args.get(k) for k in ("order", "offset") if tree.args.get(k)}
        inner = tree.this
        if outer and any(inner.args.get(k) for k in ("order", "limit", "offset")):
            raise AdqlError(
                "ORDER BY or OFFSET after a parenthesised query that has its own ORDER BY, TOP "
                "or OFFSET is not supported; write SELECT * FROM (...) AS q ORDER BY ..."
            )
        for key, value in outer.items():
            inner.set(key, value)
        tree = inner
        tree.parent = None
    return tree


_BALANCE_ABOVE = 64
"""In trees deeper than this, AND/OR chains are rebuilt as balanced trees (same meaning)."""


def _balance_chains(tree: exp.Expr) -> None:
    for node in list(tree.find_all(exp.And, exp.Or)):
        if type(node.parent) is type(node):
            continue
        operands = list(node.flatten())
        if len(operands) > 2:
            node.replace(_balanced(type(node), operands))


def _balanced(cls: type[exp.Connector], operands: list[exp.Expr]) -> exp.Expr:
    if len(operands) == 1:
        return operands[0]
    middle = len(operands) // 2
    return cls(this=_balanced(cls, operands[:middle]), expression=_balanced(cls, operands[middle:]))


def _depth(tree: exp.Expr) -> int:
    """Depth of ``tree``, measured without recursion (it may be deeper than Python's stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for value in node.args.values():
            if isinstance(value, exp.Expr):
                stack.append((value, depth + 1))
            elif isinstance(value, list):
                stack.extend((v, depth + 1) for v in value if isinstance(v, exp.Expr))
    return deepest


def _merge_adjacent_strings(tree: exp.Expr) -> None:
    """SQL joins string literals separated only by blanks or comments: 'ab' -- x\n'cd'."""
    for node in list(tree.find_all(exp.Concat)):
        parts = node.expressions
        if parts and all(isinstance(p, exp.Literal) and p.is_string for p in parts):
            node.replace(exp.Literal.string("".join(p.this for p in parts)))


def _normalize(tree: exp.Expr) -> None:
    for setop in find_all(tree, exp.SetOperation):
        for key in ("this", "expression"):
            operand = setop.args.get(key)
            if (
                isinstance(operand, exp.Subquery)
                and isinstance(operand.this, exp.Select)
                and not operand.alias
            ):
                setop.set(key, operand.this)
    for node in all_nodes(tree):
        node.comments = None
        if isinstance(node, exp.Identifier) and not node.quoted:
            node.set("this", node.name.lower())
