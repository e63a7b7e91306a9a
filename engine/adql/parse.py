"""Parse ADQL 2.1 text into a validated sqlglot tree (:func:`parse_adql`)."""

from __future__ import annotations

from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from engine.adql.dialect import ADQL
from engine.adql.validate import ADQL_RESERVED, snippet, validate
from engine.errors import AdqlError, AdqlSyntaxError

MAX_QUERY_CHARS = 1_000_000
"""Longer texts are refused before tokenizing: no legitimate ADQL query is this big."""

_DIALECT = ADQL()
_TOKENIZER = _DIALECT.tokenizer_class(dialect=_DIALECT)
_AFTER_OFFSET = frozenset(
    {TokenType.R_PAREN, TokenType.UNION, TokenType.INTERSECT, TokenType.EXCEPT,
     TokenType.SEMICOLON}
)


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
    try:
        tokens = _TOKENIZER.tokenize(text)
    except TokenError as exc:
        line, col = _line_col_of_error(str(exc), text)
        raise AdqlSyntaxError(
            "Unterminated string, quoted name or comment", line=line, col=col,
            snippet=_snippet(text, line, col),
        ) from exc
    tokens = _check_tokens(tokens, text)
    if not tokens:
        raise AdqlSyntaxError("Empty query; write SELECT ... FROM ...", line=1, col=1)
    try:
        trees = _DIALECT.parser().parse(tokens, text)
    except ParseError as exc:
        raise _syntax_error(exc, text, tokens) from exc
    if len(trees) != 1 or trees[0] is None:
        raise AdqlError("Only a single SELECT query is accepted (several statements given)")
    tree = trees[0]
    while isinstance(tree, exp.Subquery) and not tree.alias and isinstance(tree.this, exp.Query):
        tree = tree.this
        tree.parent = None
    _merge_adjacent_strings(tree)
    validate(tree, text)
    _normalize(tree)
    return tree  # type: ignore[return-value]


def _check_tokens(tokens: list[Token], text: str) -> list[Token]:
    """Token-level rules sqlglot's permissive parser does not enforce."""
    if tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens = tokens[:-1]
    for i, token in enumerate(tokens):
        kind = token.token_type
        if kind == TokenType.SEMICOLON:
            raise _at(token, text, "Only one statement is accepted: remove what follows ';'")
        if kind == TokenType.COMMA and i + 1 < len(tokens):
            following = tokens[i + 1].token_type
            if following in (TokenType.FROM, TokenType.R_PAREN):
                raise _at(tokens[i], text, "Remove this comma: nothing follows it")
        if kind == TokenType.OFFSET:
            after = tokens[i + 2] if i + 2 < len(tokens) else None
            if after is not None and after.token_type not in _AFTER_OFFSET:
                raise _at(after, text, "OFFSET must be the last clause of a SELECT")
    return tokens


def _at(token: Token, text: str, message: str) -> AdqlSyntaxError:
    line, col = token.line, max(1, token.col - len(token.text) + 1)
    return AdqlSyntaxError(message, line=line, col=col, snippet=_snippet(text, line, col))


def _snippet(text: str, line: int, col: int) -> str:
    return snippet(text, line, col)


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


def _syntax_error(exc: ParseError, text: str, tokens: list[Token]) -> AdqlSyntaxError:
    err = exc.errors[0] if exc.errors else {}
    line, col = int(err.get("line") or 1), int(err.get("col") or 1)
    highlight = str(err.get("highlight") or "")
    col = max(1, col - len(highlight) + 1)
    message = str(err.get("description") or exc).split(". Line")[0]
    if message.startswith("Invalid expression / Unexpected token"):
        message = f"Unexpected '{highlight}'" if highlight else "Unexpected end of query"
    return AdqlSyntaxError(
        message + _hint(highlight, tokens),
        line=line, col=col, snippet=_snippet(text, line, col),
    )


def _hint(highlight: str, tokens: list[Token]) -> str:
    opened = sum(t.token_type == TokenType.L_PAREN for t in tokens)
    closed = sum(t.token_type == TokenType.R_PAREN for t in tokens)
    kinds = {t.token_type for t in tokens}
    if opened != closed:
        return f" (unbalanced parentheses: {opened} '(' and {closed} ')')"
    if TokenType.SELECT in kinds and TokenType.FROM not in kinds:
        return " (missing FROM: SELECT columns FROM schema.table)"
    if highlight.upper() in ADQL_RESERVED:
        return f" ('{highlight}' is a reserved word: write \"{highlight}\" if it is a name)"
    if highlight.upper() == "LIMIT":
        return " (ADQL uses SELECT TOP n instead of LIMIT n)"
    return ""


def _merge_adjacent_strings(tree: exp.Expr) -> None:
    """SQL joins string literals separated only by blanks or comments: 'ab' -- x\n'cd'."""
    for node in list(tree.find_all(exp.Concat)):
        parts = node.expressions
        if parts and all(isinstance(p, exp.Literal) and p.is_string for p in parts):
            node.replace(exp.Literal.string("".join(p.this for p in parts)))


def _normalize(tree: exp.Expr) -> None:
    for setop in list(tree.find_all(exp.SetOperation)):
        for key in ("this", "expression"):
            operand = setop.args.get(key)
            if (
                isinstance(operand, exp.Subquery)
                and isinstance(operand.this, exp.Select)
                and not operand.alias
            ):
                setop.set(key, operand.this)
    for node in tree.walk():
        node.comments = None
        if isinstance(node, exp.Identifier) and not node.quoted:
            node.set("this", node.name.lower())
