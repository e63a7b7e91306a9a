"""The ADQL 2.1 sqlglot dialect: tokenizer, function table and ADQL generator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from sqlglot import TokenType, exp, generator, parser, tokens
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

from engine.adql import nodes


class BuilderError(ValueError):
    """A function was called with the wrong number or kind of arguments."""


Builder = Callable[[list[exp.Expr]], exp.Expr]

_NOT_ADQL_KEYWORDS = frozenset(
    {
        "==", "FLOAT", "FLOAT4", "FLOAT8", "INT", "INT1", "INT2", "INT4", "INT8", "INT16",
        "INT32", "INT64", "INT128", "INT256", "TINYINT", "MEDIUMINT", "DECIMAL", "NUMERIC",
        "TEXT", "STRING", "BLOB", "BINARY", "VARBINARY", "DATE", "DATETIME", "TIME", "JSON",
        "UUID", "BOOLEAN", "BOOL", "STRUCT", "MAP", "ARRAY", "LIST", "NVARCHAR", "NCHAR",
        "BPCHAR", "::", "->", "->>", "#>", "#>>", "@>", "<@", "?|", "?&", "<=>", ":=",
        "PIVOT", "UNPIVOT", "QUALIFY", "LATERAL", "WINDOW", "OVER", "FILTER", "FETCH",
        "LIMIT", "RETURNING", "VALUES", "COLLATE", "INTERVAL", "TABLESAMPLE", "SAMPLE",
    }
)
"""Keywords of sqlglot's generic dialect that ADQL does not have: they become plain words,
so that e.g. ``CAST(x AS FLOAT)`` or ``LIMIT 5`` are rejected rather than accepted."""


def _arity(name: str, args: Sequence[exp.Expr], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise BuilderError(f"{name}() takes {want} argument(s), got {len(args)}")


def _fixed(name: str, cls: type[exp.Expr], keys: Sequence[str], low: int = -1) -> Builder:
    low = len(keys) if low < 0 else low

    def build(args: list[exp.Expr]) -> exp.Expr:
        _arity(name, args, low, len(keys))
        return cls(**dict(zip(keys, args, strict=False)))

    return build


def _is_coordsys(arg: exp.Expr) -> bool:
    return isinstance(arg, exp.Null) or (isinstance(arg, exp.Literal) and arg.is_string)


def _split_coordsys(
    args: list[exp.Expr], n_plain: int
) -> tuple[exp.Expr | None, list[exp.Expr]]:
    if len(args) > n_plain or (args and len(args) == n_plain and _is_coordsys(args[0])):
        if not _is_coordsys(args[0]):
            raise BuilderError("the first argument must be a coordinate system string")
        return args[0], args[1:]
    return None, args


def _point(args: list[exp.Expr]) -> exp.Expr:
    _arity("POINT", args, 2, 3)
    coordsys, rest = _split_coordsys(args, 2)
    if len(rest) != 2:
        raise BuilderError("POINT() takes [coordsys,] ra, dec")
    return nodes.Point(this=rest[0], expression=rest[1], coordsys=coordsys)


def _circle(args: list[exp.Expr]) -> exp.Expr:
    _arity("CIRCLE", args, 2, 4)
    if len(args) == 4 or (len(args) == 3 and _is_coordsys(args[0])):
        coordsys, rest = args[0], args[1:]
    else:
        coordsys, rest = None, args
    if len(rest) == 3:
        center: exp.Expr = nodes.Point(this=rest[0], expression=rest[1])
    elif len(rest) == 2 and not isinstance(rest[0], (exp.Literal, exp.Neg)):
        center = rest[0]
    else:
        raise BuilderError(
            "CIRCLE() takes [coordsys,] ra, dec, radius or [coordsys,] point, radius"
        )
    return nodes.Circle(this=center, expression=rest[-1], coordsys=coordsys)


def _box(args: list[exp.Expr]) -> exp.Expr:
    _arity("BOX", args, 3, 5)
    coordsys, rest = (args[0], args[1:]) if _is_coordsys(args[0]) else (None, args)
    if len(rest) == 4:
        center: exp.Expr = nodes.Point(this=rest[0], expression=rest[1])
    elif len(rest) == 3:
        center = rest[0]
    else:
        raise BuilderError("BOX() takes [coordsys,] ra, dec, width, height")
    return nodes.Box(this=center, width=rest[-2], height=rest[-1], coordsys=coordsys)


def _polygon(args: list[exp.Expr]) -> exp.Expr:
    coordsys, rest = (args[0], args[1:]) if args and _is_coordsys(args[0]) else (None, args)
    if rest and all(isinstance(a, nodes.Point) for a in rest):
        vertices = rest
    elif len(rest) % 2 == 0:
        vertices = [
            nodes.Point(this=rest[i], expression=rest[i + 1]) for i in range(0, len(rest), 2)
        ]
    else:
        raise BuilderError("POLYGON() takes [coordsys,] then pairs of ra, dec (an odd count given)")
    if len(vertices) < 3:
        raise BuilderError("POLYGON() needs at least 3 vertices")
    return nodes.Polygon(expressions=vertices, coordsys=coordsys)


def _distance(args: list[exp.Expr]) -> exp.Expr:
    if len(args) == 4:
        return nodes.Distance(
            this=nodes.Point(this=args[0], expression=args[1]),
            expression=nodes.Point(this=args[2], expression=args[3]),
        )
    _arity("DISTANCE", args, 2, 2)
    return nodes.Distance(this=args[0], expression=args[1])


def _log10(args: list[exp.Expr]) -> exp.Expr:
    _arity("LOG10", args, 1, 1)
    return exp.Log(this=exp.Literal.number(10), expression=args[0])


def _coalesce(args: list[exp.Expr]) -> exp.Expr:
    if not args:
        raise BuilderError("COALESCE() needs at least one argument")
    return exp.Coalesce(this=args[0], expressions=args[1:])


def _rand(args: list[exp.Expr]) -> exp.Expr:
    _arity("RAND", args, 0, 1)
    return exp.Rand(this=args[0] if args else None)


ADQL_FUNCTIONS: dict[str, Builder] = {
    # math (ADQL 2.1 §2.3)
    "ABS": _fixed("ABS", exp.Abs, ["this"]),
    "CEILING": _fixed("CEILING", exp.Ceil, ["this"]),
    "DEGREES": _fixed("DEGREES", exp.Degrees, ["this"]),
    "EXP": _fixed("EXP", exp.Exp, ["this"]),
    "FLOOR": _fixed("FLOOR", exp.Floor, ["this"]),
    "LOG": _fixed("LOG", exp.Ln, ["this"]),
    "LOG10": _log10,
    "MOD": _fixed("MOD", exp.Mod, ["this", "expression"]),
    "PI": _fixed("PI", exp.Pi, []),
    "POWER": _fixed("POWER", exp.Pow, ["this", "expression"]),
    "RADIANS": _fixed("RADIANS", exp.Radians, ["this"]),
    "RAND": _rand,
    "SQRT": _fixed("SQRT", exp.Sqrt, ["this"]),
    "TRUNCATE": _fixed("TRUNCATE", nodes.Truncate, ["this", "decimals"], 1),
    "ROUND": _fixed("ROUND", exp.Round, ["this", "decimals"], 1),
    "SIN": _fixed("SIN", exp.Sin, ["this"]),
    "COS": _fixed("COS", exp.Cos, ["this"]),
    "TAN": _fixed("TAN", exp.Tan, ["this"]),
    "COT": _fixed("COT", exp.Cot, ["this"]),
    "ASIN": _fixed("ASIN", exp.Asin, ["this"]),
    "ACOS": _fixed("ACOS", exp.Acos, ["this"]),
    "ATAN": _fixed("ATAN", exp.Atan, ["this"]),
    "ATAN2": _fixed("ATAN2", exp.Atan2, ["this", "expression"]),
    # bitwise (ADQL 2.1 optional)
    "BIT_AND": _fixed("BIT_AND", exp.BitwiseAnd, ["this", "expression"]),
    "BIT_OR": _fixed("BIT_OR", exp.BitwiseOr, ["this", "expression"]),
    "BIT_XOR": _fixed("BIT_XOR", exp.BitwiseXor, ["this", "expression"]),
    "BIT_NOT": _fixed("BIT_NOT", exp.BitwiseNot, ["this"]),
    # aggregates
    "COUNT": _fixed("COUNT", exp.Count, ["this"]),
    "AVG": _fixed("AVG", exp.Avg, ["this"]),
    "MIN": _fixed("MIN", exp.Min, ["this"]),
    "MAX": _fixed("MAX", exp.Max, ["this"]),
    "SUM": _fixed("SUM", exp.Sum, ["this"]),
    # strings and conditionals
    "LOWER": _fixed("LOWER", exp.Lower, ["this"]),
    "UPPER": _fixed("UPPER", exp.Upper, ["this"]),
    "CHAR_LENGTH": _fixed("CHAR_LENGTH", exp.Length, ["this"]),
    "CHARACTER_LENGTH": _fixed("CHARACTER_LENGTH", exp.Length, ["this"]),
    "OCTET_LENGTH": _fixed("OCTET_LENGTH", nodes.OctetLength, ["this"]),
    "COALESCE": _coalesce,
    "NULLIF": _fixed("NULLIF", exp.Nullif, ["this", "expression"]),
    # geometry (ADQL 2.1 §2.4) and units
    "POINT": _point,
    "CIRCLE": _circle,
    "BOX": _box,
    "POLYGON": _polygon,
    "CONTAINS": _fixed("CONTAINS", nodes.Contains, ["this", "expression"]),
    "INTERSECTS": _fixed("INTERSECTS", nodes.Intersects, ["this", "expression"]),
    "DISTANCE": _distance,
    "AREA": _fixed("AREA", nodes.Area, ["this"]),
    "CENTROID": _fixed("CENTROID", nodes.Centroid, ["this"]),
    "COORD1": _fixed("COORD1", nodes.Coord1, ["this"]),
    "COORD2": _fixed("COORD2", nodes.Coord2, ["this"]),
    "COORDSYS": _fixed("COORDSYS", nodes.CoordSys, ["this"]),
    "REGION": _fixed("REGION", nodes.Region, ["this"]),
    "IN_UNIT": _fixed("IN_UNIT", nodes.InUnit, ["this", "expression"]),
}
"""ADQL function name -> node builder; any other name parses as ``exp.Anonymous`` and is
refused by validation (user-defined functions are not supported)."""

SPECIAL_FORMS = ("CAST", "TRIM", "SUBSTRING", "POSITION")
"""Functions with keyword syntax, parsed by sqlglot's own routines."""


class ADQL(Dialect):
    """ADQL 2.1: case-insensitive regular identifiers, ``"delimited"`` ones, ``TOP``."""

    NORMALIZATION_STRATEGY = NormalizationStrategy.LOWERCASE
    INTERSECT_BINDS_TIGHTER_THAN_UNION_AND_EXCEPT = True
    NULL_ORDERING = "nulls_are_last"  # as DuckDB, so ORDER BY needs no NULLS FIRST/LAST

    class Tokenizer(tokens.Tokenizer):
        """ADQL lexical rules: ``'strings'``, ``"identifiers"``, ``--`` and ``/* */`` comments."""

        QUOTES: ClassVar = ["'"]
        IDENTIFIERS: ClassVar = ['"']
        STRING_ESCAPES: ClassVar = ["'"]
        IDENTIFIER_ESCAPES: ClassVar = ['"']
        COMMENTS: ClassVar = ["--", ("/*", "*/")]
        HEX_STRINGS: ClassVar = []
        BIT_STRINGS: ClassVar = []
        BYTE_STRINGS: ClassVar = []
        RAW_STRINGS: ClassVar = []
        HEREDOC_STRINGS: ClassVar = []
        VAR_SINGLE_TOKENS: ClassVar = set()
        KEYWORDS: ClassVar = {
            **{k: v for k, v in tokens.Tokenizer.KEYWORDS.items() if k not in _NOT_ADQL_KEYWORDS},
            "TOP": TokenType.TOP,
        }

    class Parser(parser.Parser):
        """sqlglot's parser restricted to the ADQL function table."""

        FUNCTIONS: ClassVar = dict(ADQL_FUNCTIONS)
        FUNCTION_PARSERS: ClassVar = {
            k: v for k, v in parser.Parser.FUNCTION_PARSERS.items() if k in SPECIAL_FORMS
        }
        NO_PAREN_FUNCTION_PARSERS: ClassVar = {
            k: v for k, v in parser.Parser.NO_PAREN_FUNCTION_PARSERS.items() if k == "CASE"
        }
        NO_PAREN_FUNCTIONS: ClassVar = {}
        LOG_DEFAULTS_TO_LN = True

        def _parse_select_query(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self._curr is not None and self._curr.token_type == TokenType.FROM:
                self.raise_error(
                    "FROM-first queries are not ADQL: the ADQL 2.1 grammar does not define "
                    "them; write SELECT ... FROM ...",
                    self._curr,
                )
            return super()._parse_select_query(*args, **kwargs)

        def _parse_table_parts(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if self._curr is not None and self._curr.token_type == TokenType.STRING:
                self.raise_error("A string cannot name a table; write schema.table", self._curr)
            return super()._parse_table_parts(*args, **kwargs)

        def _parse_function_call(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            token = self._curr
            try:
                return super()._parse_function_call(*args, **kwargs)
            except BuilderError as exc:
                self.raise_error(str(exc), token)
                return None

    class Generator(generator.Generator):
        """Emit ADQL text (:func:`engine.adql.emit.to_adql`)."""

        LIMIT_IS_TOP = True
        TYPE_MAPPING: ClassVar = {
            **generator.Generator.TYPE_MAPPING,
            exp.DataType.Type.DOUBLE: "DOUBLE PRECISION",
            exp.DataType.Type.FLOAT: "REAL",
            exp.DataType.Type.INT: "INTEGER",
        }
        TRANSFORMS: ClassVar = {
            **generator.Generator.TRANSFORMS,
            exp.Ln: lambda self, e: self.func("LOG", e.this),
            exp.Ceil: lambda self, e: self.func("CEILING", e.this),
            exp.Pow: lambda self, e: self.func("POWER", e.this, e.expression),
            exp.Mod: lambda self, e: self.func("MOD", e.this, e.expression),
            exp.Length: lambda self, e: self.func("CHAR_LENGTH", e.this),
            exp.Rand: lambda self, e: self.func("RAND", e.this),
            exp.Coalesce: lambda self, e: self.func("COALESCE", e.this, *e.expressions),
            nodes.OctetLength: lambda self, e: self.func("OCTET_LENGTH", e.this),
            nodes.Truncate: lambda self, e: self.func("TRUNCATE", e.this, e.args.get("decimals")),
            nodes.Point: lambda self, e: self.func(
                "POINT", e.args.get("coordsys"), e.this, e.expression
            ),
            nodes.Circle: lambda self, e: _circle_adql(self, e),
            nodes.Box: lambda self, e: _box_adql(self, e),
            nodes.Polygon: lambda self, e: self.func(
                "POLYGON",
                e.args.get("coordsys"),
                *[a for v in e.expressions for a in _vertex_args(v)],
            ),
            nodes.InUnit: lambda self, e: self.func("IN_UNIT", e.this, e.expression),
            nodes.CoordSys: lambda self, e: self.func("COORDSYS", e.this),
        }

        def log_sql(self, expression: exp.Log) -> str:
            """``LOG10(x)`` is stored as ``Log(10, x)``."""
            return self.func("LOG10", expression.expression)


def _vertex_args(vertex: exp.Expr) -> list[exp.Expr]:
    if isinstance(vertex, nodes.Point) and not vertex.args.get("coordsys"):
        return [vertex.this, vertex.expression]
    return [vertex]


def _circle_adql(gen: generator.Generator, e: nodes.Circle) -> str:
    center = e.this
    if isinstance(center, nodes.Point) and not center.args.get("coordsys"):
        return gen.func(
            "CIRCLE", e.args.get("coordsys"), center.this, center.expression, e.expression
        )
    return gen.func("CIRCLE", e.args.get("coordsys"), center, e.expression)


def _box_adql(gen: generator.Generator, e: nodes.Box) -> str:
    center, w, h = e.this, e.args["width"], e.args["height"]
    if isinstance(center, nodes.Point) and not center.args.get("coordsys"):
        return gen.func("BOX", e.args.get("coordsys"), center.this, center.expression, w, h)
    return gen.func("BOX", e.args.get("coordsys"), center, w, h)
