"""TAP_SCHEMA (TAP 1.1 §4) generated from the published tables' manifests.

The engine registers the tables returned here as small regular tables, so
``SELECT * FROM TAP_SCHEMA.columns WHERE table_name = 'hip.main'`` runs like any query.
Pure: no web imports; the service uses :func:`votable_type` for its FIELDs too.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from engine.catalog import ColumnInfo, TableKind, TableManifest

TAP_SCHEMA = "tap_schema"

_SCALAR_TYPES: dict[str, str] = {
    "bool": "boolean",
    "int8": "short",
    "uint8": "unsignedByte",
    "int16": "short",
    "uint16": "int",
    "int32": "int",
    "uint32": "long",
    "int64": "long",
    "uint64": "long",
    "halffloat": "float",
    "float16": "float",
    "float": "float",
    "float32": "float",
    "double": "double",
    "float64": "double",
}
"""Arrow scalar type -> VOTable datatype. VOTable has no signed byte nor unsigned
16/32/64-bit integers, so those widen to the next signed type (uint64 may overflow)."""

_RESERVED_WORDS = """
ABS ACOS AREA ASIN ATAN ATAN2 BIGINT BOX CEILING CENTROID CIRCLE CONTAINS COORD1 COORD2
COORDSYS COS COT DEGREES DISTANCE EXP FLOOR INTERSECTS LOG LOG10 MOD PI POINT POLYGON POWER
RADIANS REGION RAND ROUND SIN SQRT TOP TAN TRUNCATE
ABSOLUTE ACTION ADD ALL ALLOCATE ALTER AND ANY ARE AS ASC ASSERTION AT AUTHORIZATION AVG BEGIN
BETWEEN BIT BIT_LENGTH BOTH BY CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER CHAR_LENGTH
CHARACTER_LENGTH CHECK CLOSE COALESCE COLLATE COLLATION COLUMN COMMIT CONNECT CONNECTION
CONSTRAINT CONSTRAINTS CONTINUE CONVERT CORRESPONDING COUNT CREATE CROSS CURRENT CURRENT_DATE
CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATE DAY DEALLOCATE DECIMAL DECLARE DEFAULT
DEFERRABLE DEFERRED DELETE DESC DESCRIBE DESCRIPTOR DIAGNOSTICS DISCONNECT DISTINCT DOMAIN DOUBLE
DROP ELSE END END-EXEC ESCAPE EXCEPT EXCEPTION EXEC EXECUTE EXISTS EXTERNAL EXTRACT FALSE FETCH
FIRST FLOAT FOR FOREIGN FOUND FROM FULL GET GLOBAL GO GOTO GRANT GROUP HAVING HOUR IDENTITY
IMMEDIATE IN INDICATOR INITIALLY INNER INPUT INSENSITIVE INSERT INT INTEGER INTERSECT INTERVAL
INTO IS ISOLATION JOIN KEY LANGUAGE LAST LEADING LEFT LEVEL LIKE LOCAL LOWER MATCH MAX MIN MINUTE
MODULE MONTH NAMES NATIONAL NATURAL NCHAR NEXT NO NOT NULL NULLIF NUMERIC OCTET_LENGTH OF ON ONLY
OPEN OPTION OR ORDER OUTER OUTPUT OVERLAPS PAD PARTIAL POSITION PRECISION PREPARE PRESERVE PRIMARY
PRIOR PRIVILEGES PROCEDURE PUBLIC READ REAL REFERENCES RELATIVE RESTRICT REVOKE RIGHT ROLLBACK ROWS
SCHEMA SCROLL SECOND SECTION SELECT SESSION SESSION_USER SET SIZE SMALLINT SOME SPACE SQL
SQLCODE SQLERROR SQLSTATE SUBSTRING SUM SYSTEM_USER TABLE TEMPORARY THEN TIME TIMESTAMP
TIMEZONE_HOUR TIMEZONE_MINUTE TO TRAILING TRANSACTION TRANSLATE TRANSLATION TRIM TRUE UNION
UNIQUE UNKNOWN UPDATE UPPER USAGE USER USING VALUE VALUES VARCHAR VARYING VIEW WHEN WHENEVER
WHERE WITH WORK WRITE YEAR ZONE
"""
ADQL_RESERVED = frozenset(_RESERVED_WORDS.split())
"""ADQL 2.1 and SQL-92 reserved words: a column so named is listed delimited ("size")."""


def adql_name(name: str) -> str:
    """Return a column name as ADQL must write it (delimited when reserved or unusual).

    Examples
    --------
    >>> adql_name("size"), adql_name("ra")
    ('"size"', 'ra')
    """
    plain = name.replace("_", "a").isalnum() and name[:1].isalpha() and name.isascii()
    if name.upper() in ADQL_RESERVED or not plain:
        return '"' + name.replace('"', '""') + '"'
    return name


def votable_type(arrow_type: str, xtype: str | None = None) -> tuple[str, str | None, str | None]:
    """Return ``(datatype, arraysize, xtype)`` for an Arrow type written as text.

    The array size follows the Arrow type alone (a fixed-size list is a fixed array, any
    other list is ``*``), because the writers lay out the bytes by that type: a geometry
    result gets its fixed-size type where the result schema is made
    (:data:`engine.result.GEOMETRY_TYPES`).

    Examples
    --------
    >>> votable_type("int64")
    ('long', None, None)
    >>> votable_type("string")
    ('char', '*', None)
    >>> votable_type("timestamp[us]")
    ('char', '*', 'timestamp')
    >>> votable_type("fixed_size_list<item: double>[2]", "point")
    ('double', '2', 'point')
    >>> votable_type("list<item: double>", "polygon")
    ('double', '*', 'polygon')
    """
    text = arrow_type.strip().lower()
    if text in _SCALAR_TYPES:
        return _SCALAR_TYPES[text], None, xtype
    if text in ("string", "large_string", "utf8", "large_utf8", "binary", "large_binary"):
        return "char", "*", xtype
    if text.startswith(("timestamp", "date")):
        return "char", "*", xtype or "timestamp"
    if "list<" in text:
        inner = text[text.index(":") + 1 : text.index(">")].strip() if ":" in text else "double"
        base = _SCALAR_TYPES.get(inner, "double")
        size = "*"
        if text.startswith("fixed_size_list") and text.endswith("]"):
            size = text[text.rindex("[") + 1 : -1]
        return base, size, xtype
    return "char", "*", xtype


def _col(name: str, datatype: str, description: str, **kw: object) -> ColumnInfo:
    return ColumnInfo(name=name, datatype=datatype, description=description, principal=True,
                      nullable=bool(kw.get("nullable", True)))


_SCHEMAS_COLS = (
    _col("schema_name", "string", "schema name, used to qualify table names", nullable=False),
    _col("utype", "string", "schema utype"),
    _col("description", "string", "brief description of the schema"),
    _col("schema_index", "int32", "recommended sort order when listing schemas"),
)
_TABLES_COLS = (
    _col("schema_name", "string", "the schema this table belongs to", nullable=False),
    _col("table_name", "string", "the fully qualified table name", nullable=False),
    _col("table_type", "string", "one of: table, view", nullable=False),
    _col("utype", "string", "table utype"),
    _col("description", "string", "brief description of the table"),
    _col("table_index", "int32", "recommended sort order when listing tables"),
)
_COLUMNS_COLS = (
    _col("table_name", "string", "the table this column belongs to", nullable=False),
    _col("column_name", "string", "the column name", nullable=False),
    _col("utype", "string", "utype of the column"),
    _col("ucd", "string", "UCD of the column"),
    _col("unit", "string", "unit in VO standard format"),
    _col("description", "string", "brief description of the column"),
    _col("datatype", "string", "VOTable/ADQL datatype of the column", nullable=False),
    _col("arraysize", "string", "VOTable arraysize of the column"),
    _col("xtype", "string", "VOTable/DALI xtype of the column"),
    _col("size", "int32", "deprecated: length of fixed-size arrays"),
    _col("principal", "int32", "1 if the column is principal, 0 otherwise", nullable=False),
    _col("indexed", "int32", "1 if the column is indexed, 0 otherwise", nullable=False),
    _col("std", "int32", "1 if the column is defined by a standard, 0 otherwise", nullable=False),
    _col("column_index", "int32", "recommended sort order when listing columns"),
)
_KEYS_COLS = (
    _col("key_id", "string", "unique key identifier", nullable=False),
    _col("from_table", "string", "fully qualified table name of the child", nullable=False),
    _col("target_table", "string", "fully qualified table name of the parent", nullable=False),
    _col("utype", "string", "utype of the key"),
    _col("description", "string", "description of the key"),
)
_KEY_COLUMNS_COLS = (
    _col("key_id", "string", "key identifier from TAP_SCHEMA.keys", nullable=False),
    _col("from_column", "string", "column in from_table", nullable=False),
    _col("target_column", "string", "column in target_table", nullable=False),
)

TAP_SCHEMA_TABLES: dict[str, tuple[tuple[ColumnInfo, ...], str]] = {
    "tap_schema.schemas": (_SCHEMAS_COLS, "description of the schemas in this service"),
    "tap_schema.tables": (_TABLES_COLS, "description of the tables in this service"),
    "tap_schema.columns": (_COLUMNS_COLS, "description of the columns in this service"),
    "tap_schema.keys": (_KEYS_COLS, "description of the foreign keys in this service"),
    "tap_schema.key_columns": (_KEY_COLUMNS_COLS, "columns of the foreign keys"),
}
"""The TAP_SCHEMA tables, their columns and descriptions, in the standard's order."""


TAP_SCHEMA_KEYS: tuple[tuple[str, str, str, str, str], ...] = (
    ("tap_schema_tables_schema", "tap_schema.tables", "schema_name", "tap_schema.schemas",
     "schema_name"),
    ("tap_schema_columns_table", "tap_schema.columns", "table_name", "tap_schema.tables",
     "table_name"),
    ("tap_schema_keys_from", "tap_schema.keys", "from_table", "tap_schema.tables", "table_name"),
    ("tap_schema_keys_target", "tap_schema.keys", "target_table", "tap_schema.tables",
     "table_name"),
    ("tap_schema_key_columns_key", "tap_schema.key_columns", "key_id", "tap_schema.keys",
     "key_id"),
)
"""TAP_SCHEMA's own foreign keys: (key_id, child table, column, parent table, column)."""


def _arrow_table(columns: tuple[ColumnInfo, ...], rows: list[tuple[object, ...]]) -> pa.Table:
    arrays = []
    for i, col in enumerate(columns):
        typ = pa.int32() if col.datatype == "int32" else pa.string()
        arrays.append(pa.array([row[i] for row in rows], type=typ))
    return pa.Table.from_arrays(arrays, names=[c.name for c in columns])


def _all_tables(
    manifests: Sequence[TableManifest],
) -> list[tuple[str, tuple[ColumnInfo, ...], str]]:
    tables = [(m.name.lower(), m.columns, m.description) for m in manifests]
    tables.sort(key=lambda t: t[0])
    tables += [(name, cols, desc) for name, (cols, desc) in TAP_SCHEMA_TABLES.items()]
    return tables


def _column_rows(name: str, columns: Sequence[ColumnInfo], std: bool) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for index, col in enumerate(columns):
        datatype, arraysize, xtype = votable_type(col.datatype)
        size = int(arraysize) if arraysize and arraysize.isdigit() else None
        rows.append((
            name, adql_name(col.name), None, col.ucd or None, col.unit or None,
            col.description or None, datatype, arraysize, xtype, size, int(col.principal),
            int(col.indexed), int(std), index,
        ))
    return rows


def tap_schema_tables(
    manifests: Sequence[TableManifest],
) -> dict[str, tuple[pa.Table, tuple[ColumnInfo, ...], str]]:
    """Return the five TAP_SCHEMA tables describing ``manifests`` and TAP_SCHEMA itself.

    Parameters
    ----------
    manifests
        The published tables (TAP_SCHEMA tables among them are ignored).

    Returns
    -------
    dict
        ``'tap_schema.schemas'`` ... ``'tap_schema.key_columns'`` mapped to
        ``(data, column metadata, table description)``.

    Examples
    --------
    >>> out = tap_schema_tables([])
    >>> sorted(out)[0], out["tap_schema.tables"][0].num_rows
    ('tap_schema.columns', 5)
    """
    user = [m for m in manifests if m.schema_name.lower() != TAP_SCHEMA]
    tables = _all_tables(user)
    schema_names = sorted({n.split(".", 1)[0] for n, _, _ in tables} - {TAP_SCHEMA})
    schema_rows: list[tuple[object, ...]] = [
        (s, None, f"tables of schema {s}", i) for i, s in enumerate(schema_names)
    ]
    schema_rows.append((TAP_SCHEMA, None, "metadata of this TAP service (TAP 1.1)", 100))
    table_rows: list[tuple[object, ...]] = []
    column_rows: list[tuple[object, ...]] = []
    for index, (name, cols, desc) in enumerate(tables):
        table_rows.append((name.split(".", 1)[0], name, "table", None, desc or None, index))
        column_rows += _column_rows(name, cols, std=name.startswith(TAP_SCHEMA + "."))
    key_rows: list[tuple[object, ...]] = []
    key_column_rows: list[tuple[object, ...]] = []
    for key_id, child, child_col, parent, parent_col in TAP_SCHEMA_KEYS:
        key_rows.append((key_id, child, parent, None, f"{child}.{child_col} refers to {parent}"))
        key_column_rows.append((key_id, child_col, parent_col))
    by_name = {m.name.lower(): m for m in user}
    for m in sorted(user, key=lambda m: m.name):
        if m.kind != TableKind.CHILD or not m.director or not m.director_key:
            continue
        director = by_name.get(m.director.lower())
        target = director.id_column if director and director.id_column else None
        if target is None:
            continue
        key_id = f"{m.name.lower()}__{m.director_key}"
        key_rows.append((key_id, m.name.lower(), m.director.lower(), None,
                         f"each row of {m.name} belongs to one row of {m.director}"))
        key_column_rows.append((key_id, m.director_key, target))
    data = {
        "tap_schema.schemas": schema_rows,
        "tap_schema.tables": table_rows,
        "tap_schema.columns": column_rows,
        "tap_schema.keys": key_rows,
        "tap_schema.key_columns": key_column_rows,
    }
    return {
        name: (_arrow_table(cols, data[name]), cols, desc)
        for name, (cols, desc) in TAP_SCHEMA_TABLES.items()
    }
