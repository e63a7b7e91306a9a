"""Parse a query's shape once: trees kept by token stream, numbers bound per query.

Queries of one shape (a cone at another centre, a lookup of another id) differ only in their
numbers. :class:`ParseTemplates` keeps the parsed tree of each shape, keyed by its tokens
with every number replaced by its kind (integer or not); a later query of that shape gets a
copy with its own numbers put in, and every node's source position (line, column, offsets,
which error messages quote) moved to its own token's. The parser's tree does not depend on a
number's value, only on the token types, so the copy is the tree the parser would build.

Only the parse itself is skipped: validation and everything after it run on the copy as on
a fresh tree, so a number that makes a query wrong (``TOP 1.5``, a radius out of range,
``0 = CONTAINS``) gives the same error. A shape whose numbers do not all end as literal
nodes, or whose nodes carry positions no token has, is not kept (it is parsed every time).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from copy import deepcopy

from sqlglot import Token, TokenType, exp

MAX_SHAPES = 512
"""Shapes kept; the least recently used is dropped beyond this."""

ShapeKey = tuple[tuple[TokenType, str, tuple[str, ...]], ...]

_POSITION_KEYS = ("line", "col", "start", "end")

_PLAIN = (int, str, bool, float, type(None))
"""Types of meta values a copy can share (immutable: deepcopy would return them)."""


def shape_key(tokens: Sequence[Token]) -> ShapeKey:
    """The tokens with each number's text replaced by its kind (``int`` or ``num``)."""
    return tuple(
        (t.token_type,
         ("int" if t.text.isdigit() else "num") if t.token_type == TokenType.NUMBER else t.text,
         tuple(t.comments))
        for t in tokens)


class _Template:
    """A parsed tree and the token index of each of its positioned nodes."""

    def __init__(self, tree: exp.Expr, tokens: Sequence[Token]) -> None:
        self.tree = tree
        self.starts = {t.start: i for i, t in enumerate(tokens)}

    def bind(self, tokens: Sequence[Token]) -> exp.Expr:
        """A copy of the tree with the numbers and positions of ``tokens``.

        The copy is sqlglot's ``Expr.copy`` (its ``__deepcopy__``) and the positions and
        numbers are put in while copying, in one pass instead of a copy and a walk: the
        bind was a fifth of a small query's parse.
        """
        root = self.tree.__class__()
        stack: list[tuple[exp.Expr, exp.Expr]] = [(self.tree, root)]
        while stack:
            node, copy = stack.pop()
            if node.comments is not None:
                copy.comments = list(node.comments)
            if node._type is not None:
                copy._type = deepcopy(node._type)
            if node._hash is not None:
                copy._hash = node._hash
            for key, value in node.args.items():
                if isinstance(value, exp.Expr):
                    stack.append((value, value.__class__()))
                    copy.set(key, stack[-1][1])
                elif type(value) is list:
                    copy.args[key] = []
                    for item in value:
                        if isinstance(item, exp.Expr):
                            stack.append((item, item.__class__()))
                            copy.append(key, stack[-1][1])
                        else:
                            copy.append(key, item)
                else:
                    copy.args[key] = value
            meta = node._meta
            if meta is None:
                continue
            copy._meta = meta = {k: v if type(v) in _PLAIN else deepcopy(v)
                                 for k, v in meta.items()}
            if "start" not in meta:
                continue
            token = tokens[self.starts[meta["start"]]]
            meta.update(line=token.line, col=token.col, start=token.start, end=token.end)
            if isinstance(copy, exp.Literal) and token.token_type == TokenType.NUMBER:
                copy.set("this", token.text)
        return root


def _template(tree: exp.Expr, tokens: Sequence[Token]) -> _Template | None:
    """The template of ``tree`` (parsed from ``tokens``), or None when it cannot be one."""
    by_start = {t.start: t for t in tokens}
    numbers = 0
    for node in tree.walk():
        meta = node._meta
        if meta is None or not any(k in meta for k in _POSITION_KEYS):
            continue
        token = by_start.get(meta.get("start", -1))
        if token is None or any(meta.get(k) != getattr(token, k) for k in _POSITION_KEYS):
            return None  # a position the tokens do not give: it could not be moved
        if isinstance(node, exp.Literal) and not node.is_string:
            if token.token_type != TokenType.NUMBER or node.this != token.text:
                return None
            numbers += 1
    if numbers != sum(t.token_type == TokenType.NUMBER for t in tokens):
        return None  # a number went somewhere other than a literal of its own
    return _Template(tree.copy(), tokens)


class ParseTemplates:
    """Parsed trees by query shape (thread-safe; at most :data:`MAX_SHAPES`)."""

    def __init__(self, max_shapes: int = MAX_SHAPES) -> None:
        self.max_shapes = max_shapes
        self._shapes: OrderedDict[ShapeKey, _Template | None] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, tokens: Sequence[Token], parse: Callable[[], exp.Expr]) -> exp.Expr:
        """The tree of ``tokens``: bound from its shape's template, else ``parse()``'s.

        ``parse`` parses exactly these tokens; its errors pass through and nothing is kept.
        """
        key = shape_key(tokens)
        with self._lock:
            found = key in self._shapes
            template = self._shapes.get(key)
            if found:
                self._shapes.move_to_end(key)
        if template is not None:
            return template.bind(tokens)
        tree = parse()
        if not found:
            made = _template(tree, tokens)
            with self._lock:
                self._shapes[key] = made
                if len(self._shapes) > self.max_shapes:
                    self._shapes.popitem(last=False)
        return tree

    def clear(self) -> None:
        """Forget every shape."""
        with self._lock:
            self._shapes.clear()
