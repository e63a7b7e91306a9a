"""Token-level rules of ADQL 2.1, checked before parsing: the lexicon and nesting limits.

sqlglot's tokenizer and parser accept many dialects. Some non-ADQL syntax leaves no trace
in the tree (``[1, 2]`` parses as ``(1, 2)``, ``a ISNULL`` as ``a IS NULL``, ``FROM t``
as ``SELECT * FROM t``), and deep nesting would exhaust Python's stack while parsing, so
these are refused here, on the text and its tokens, with the line and column.
"""

from __future__ import annotations

import itertools
import re

from sqlglot import Token, TokenType

from engine.adql.grammar import NUMBER, PUNCTUATION, REGULAR_IDENTIFIER, VENDOR_OPERATORS
from engine.adql.validate import snippet
from engine.errors import AdqlSyntaxError

MAX_NESTING_DEPTH = 25
"""Deepest nesting of parentheses, function calls, subqueries and CASE accepted. The parser
descends about 25 Python frames per level, so deeper queries would exhaust Python's stack
(a crash, not an answer); checked on the tokens before parsing."""

_AFTER_OFFSET = frozenset(
    {TokenType.R_PAREN, TokenType.UNION, TokenType.INTERSECT, TokenType.EXCEPT,
     TokenType.SEMICOLON}
)


def check_tokens(tokens: list[Token], text: str) -> list[Token]:
    """Token-level rules sqlglot's permissive parser does not enforce.

    Also joins ``.`` and the digits after it into one number: sqlglot's tokenizer splits
    ``.5`` in two, and ``SELECT DISTINCT .5`` then reads as a name ``DISTINCT.5``.
    """
    if tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens = tokens[:-1]
    tokens = _join_leading_dot_numbers(tokens)
    for i, token in enumerate(tokens):
        kind = token.token_type
        if kind == TokenType.SEMICOLON:
            raise error_at(token, text, "Only one statement is accepted: remove what follows ';'")
        if kind == TokenType.COMMA and i + 1 < len(tokens):
            following = tokens[i + 1].token_type
            if following in (TokenType.FROM, TokenType.R_PAREN):
                raise error_at(tokens[i], text, "Remove this comma: nothing follows it")
        if kind == TokenType.OFFSET:
            after = tokens[i + 2] if i + 2 < len(tokens) else None
            if after is not None and after.token_type not in _AFTER_OFFSET:
                raise error_at(after, text, "OFFSET must be the last clause of a SELECT")
    return tokens


_NAME_ENDS = frozenset({TokenType.VAR, TokenType.IDENTIFIER, TokenType.R_PAREN})


def _join_leading_dot_numbers(tokens: list[Token]) -> list[Token]:
    joined: list[Token] = []
    for token in tokens:
        dot = joined[-1] if joined else None
        before = joined[-2] if len(joined) > 1 else None
        if (
            dot is not None
            and dot.token_type == TokenType.DOT
            and token.token_type == TokenType.NUMBER
            and token.text[:1].isdigit()
            and token.start == dot.end + 1
            and not (before is not None and before.token_type in _NAME_ENDS
                     and before.end + 1 == dot.start)
        ):
            joined[-1] = Token(
                TokenType.NUMBER, "." + token.text, line=token.line, col=token.col,
                start=dot.start, end=token.end, comments=dot.comments + token.comments,
            )
        else:
            joined.append(token)
    return joined


def error_at(token: Token, text: str, message: str) -> AdqlSyntaxError:
    """An :class:`AdqlSyntaxError` at ``token`` (whose ``col`` is where it ends)."""
    line, col = token.line, max(1, token.col - len(token.text) + 1)
    return AdqlSyntaxError(message, line=line, col=col, snippet=snippet(text, line, col))


_QUOTED = frozenset({TokenType.STRING, TokenType.IDENTIFIER})
_TYPED_LITERALS = frozenset({"DATE", "TIME", "TIMESTAMP", "INTERVAL"})
_VENDOR_CLAUSES = frozenset({"QUALIFY", "WINDOW", "PIVOT", "UNPIVOT", "TABLESAMPLE", "FETCH"})
"""Words other dialects start a clause with; in ADQL they could only be names, and a name is
never followed by another name, a number or '('."""
_VENDOR_JOINS = frozenset({"ASOF", "POSITIONAL", "SEMI", "ANTI", "LATERAL", "ARRAY", "PASTE"})
_LAST_WORDS = frozenset(
    {"AS", "ON", "BY", "WHERE", "HAVING", "AND", "OR", "NOT", "JOIN", "FROM", "SELECT", "USING",
     "IN", "LIKE", "ILIKE", "BETWEEN", "IS", "TOP", "OFFSET", "UNION", "INTERSECT", "EXCEPT",
     "WITH", "CASE", "WHEN", "THEN", "ELSE", "ESCAPE", "GROUP BY", "ORDER BY"}
)


def check_lexicon(tokens: list[Token], text: str) -> None:
    """Refuse symbols, numbers, names and word sequences that ADQL 2.1 does not define.

    These leave no trace in sqlglot's tree (``[1, 2]`` parses as ``(1, 2)``, ``a ISNULL``
    as ``a IS NULL``), so they are checked here, on the tokens.
    """
    count = len(tokens)
    for i, token in enumerate(tokens):
        kind, word = token.token_type, token.text
        if kind in _QUOTED:
            continue
        if kind == TokenType.NUMBER:
            if not NUMBER.fullmatch(word):
                raise error_at(
                    token, text, f"'{word}' is not an ADQL number (write 12, 1.5 or 1.5E-3)"
                )
        elif kind == TokenType.VAR or word[:1].isalpha() or word[:1] in "_$":
            _check_word(tokens, i, text)
        elif word not in PUNCTUATION or (i + 1 < count and _adjacent(token, tokens[i + 1])):
            _check_symbol(tokens, i, text)
    last = tokens[-1]
    if last.token_type not in (TokenType.STRING, TokenType.IDENTIFIER, TokenType.VAR) and (
        last.text.upper() in _LAST_WORDS
    ):
        raise error_at(last, text, f"The query ends after '{last.text}': something is missing")


_WATCHED_WORDS = frozenset(
    {"LIMIT", "SAMPLE", "ISNULL", "NOTNULL", "NULLS", "DISTINCT", "ALL"}
) | _VENDOR_JOINS | _TYPED_LITERALS
"""Words that start a sequence checked below (others need no look at their neighbours)."""


def _check_word(tokens: list[Token], i: int, text: str) -> None:
    token, upper = tokens[i], tokens[i].text.upper()
    if token.token_type != TokenType.VAR and upper not in _WATCHED_WORDS:
        return
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    after = following.text.upper() if following is not None else ""
    before = tokens[i - 1].text.upper() if i else ""
    if token.token_type == TokenType.VAR and not REGULAR_IDENTIFIER.fullmatch(token.text):
        if token.text[:1] == "$":
            raise error_at(token, text, f"'{token.text}' is not ADQL: ADQL has no query parameters")
        raise error_at(
            token, text,
            f"Name '{token.text}' is not an ADQL regular identifier (letters A-Z, digits and _, "
            f"starting with a letter); write it in double quotes: \"{token.text}\"",
        )
    if token.token_type == TokenType.VAR and _is_vendor_clause(upper, following):
        hint = " (ADQL uses SELECT TOP n)" if upper in ("LIMIT", "FETCH") else ""
        raise error_at(token, text, f"{upper} is not ADQL: the ADQL 2.1 grammar does not define "
                               f"it{hint}")
    if upper in ("ISNULL", "NOTNULL") and token.token_type != TokenType.VAR:
        negated = "NOT " if upper == "NOTNULL" else ""
        raise error_at(token, text, f"{upper} is not ADQL; write IS {negated}NULL")
    if upper == "NULLS" and after in ("FIRST", "LAST"):
        raise error_at(token, text, f"NULLS {after} is not ADQL: the ADQL 2.1 grammar does not "
                               "define it; ORDER BY takes only ASC or DESC")
    if upper in _VENDOR_JOINS and after == "JOIN" and before != "AS":
        raise error_at(token, text, f"{upper} JOIN is not ADQL: the ADQL 2.1 grammar does not "
                               "define it (if it is a table alias, write AS before it)")
    if upper in _TYPED_LITERALS and following is not None and (
        following.token_type == TokenType.STRING
    ):
        raise error_at(token, text, f"{upper} '...' literals are not ADQL; write "
                               f"CAST('{following.text}' AS TIMESTAMP)")
    if upper in ("DISTINCT", "ALL") and i >= 2 and tokens[i - 2].text.upper() == "TOP":
        raise error_at(token, text, f"Write SELECT {upper} TOP n: {upper} comes before TOP in ADQL")


def _is_vendor_clause(word: str, following: Token | None) -> bool:
    if following is None:
        return False
    if word in ("LIMIT", "SAMPLE"):  # also common column names: only before a number
        return following.token_type == TokenType.NUMBER or following.text.upper() == "ALL"
    return word in _VENDOR_CLAUSES and following.token_type in (
        TokenType.VAR, TokenType.NUMBER, TokenType.L_PAREN, TokenType.FIRST, TokenType.NEXT,
    )


def _check_symbol(tokens: list[Token], i: int, text: str) -> None:
    token = tokens[i]
    joined = i + 1 < len(tokens) and _adjacent(token, tokens[i + 1])
    for length in (3, 2) if joined else ():
        run = tokens[i : i + length]
        if len(run) == length and all(_adjacent(a, b) for a, b in itertools.pairwise(run)):
            symbol = "".join(t.text for t in run)
            if symbol in VENDOR_OPERATORS:
                raise error_at(token, text, f"'{symbol}' is not ADQL; {VENDOR_OPERATORS[symbol]}")
    if token.text not in PUNCTUATION:
        hint = VENDOR_OPERATORS.get(token.text[:1], "")
        raise error_at(token, text, f"'{token.text}' is not ADQL" + (f"; {hint}" if hint else ""))


def _adjacent(first: Token, second: Token) -> bool:
    return second.start == first.end + 1


def check_nesting(tokens: list[Token], text: str) -> None:
    """Refuse parentheses (calls, subqueries) and CASE nested over :data:`MAX_NESTING_DEPTH`."""
    depth = 0
    for token in tokens:
        if token.token_type in (TokenType.L_PAREN, TokenType.CASE):
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                raise error_at(token, text, too_deep())
        elif token.token_type in (TokenType.R_PAREN, TokenType.END):
            depth -= 1


_PAREN_OR_QUOTED = re.compile(
    r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|--[^\n]*|/\*.*?(?:\*/|\Z)|[()]", re.DOTALL
)


def check_paren_depth(text: str) -> None:
    """Refuse deep parentheses before tokenizing: a million '(' would take a minute to tokenize."""
    depth = 0
    for match in _PAREN_OR_QUOTED.finditer(text):
        symbol = match.group()
        if symbol == "(":
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                before = text[: match.start()]
                line = before.count("\n") + 1
                col = match.start() - (before.rfind("\n") + 1) + 1
                raise AdqlSyntaxError(
                    too_deep(), line=line, col=col,
                    snippet=snippet(text, line, col),
                )
        elif symbol == ")":
            depth -= 1


def too_deep() -> str:
    """The message for a query nested deeper than :data:`MAX_NESTING_DEPTH`."""
    return (
        f"The query nests parentheses, functions, subqueries or CASE more than "
        f"{MAX_NESTING_DEPTH} levels deep; the limit is {MAX_NESTING_DEPTH} levels. Simplify it "
        "(a WITH query can replace a nested subquery)"
    )
