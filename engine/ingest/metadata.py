"""Column metadata: from a Felis YAML schema when given, else inferred from the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from engine.catalog import ColumnInfo
from engine.errors import IngestError, suggest
from engine.ingest.readers import FieldMeta


def arrow_type_name(dtype: pa.DataType) -> str:
    """Return the Arrow type as text (``int64``, ``double``, ``string``, ...)."""
    if pa.types.is_large_string(dtype):
        return "string"
    return str(dtype)


def read_felis_table(schema_yaml: str | Path, table: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """Return the description and per-column entries of ``table`` in a Felis YAML file.

    Parameters
    ----------
    schema_yaml
        A Rubin Felis schema (``tables: - name: ..., columns: - name: ...``).
    table
        The table part of the qualified name (case-insensitive).

    Raises
    ------
    IngestError
        The file does not parse or has no such table.
    """
    try:
        doc = yaml.safe_load(Path(schema_yaml).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise IngestError(f"{schema_yaml}: cannot read the Felis schema: {exc}") from exc
    tables = (doc or {}).get("tables") or []
    names = [str(t.get("name", "")) for t in tables]
    for entry in tables:
        if str(entry.get("name", "")).lower() == table.lower():
            columns = {str(c["name"]).lower(): c for c in entry.get("columns") or []}
            for key in _as_list(entry.get("primaryKey")):
                colname = str(key).rsplit(".", 1)[-1].lower()
                if colname in columns:
                    columns[colname] = {**columns[colname], "_primary": True}
            return str(entry.get("description") or ""), columns
    raise IngestError(
        f"{schema_yaml}: no table '{table}' in this Felis schema (tables: {', '.join(names)})."
        + suggest(table, names)
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def build_columns(
    schema: pa.Schema,
    file_meta: dict[str, FieldMeta],
    felis: dict[str, dict[str, Any]] | None,
    *,
    ra: str | None,
    dec: str | None,
    id_column: str | None,
) -> tuple[ColumnInfo, ...]:
    """Return the ColumnInfo of every column (the internal ``_healpix_29`` excluded)."""
    out = []
    for fld in schema:
        if fld.name.startswith("_healpix_"):
            continue
        meta = file_meta.get(fld.name, FieldMeta())
        unit, ucd, description = meta.unit, meta.ucd, meta.description
        principal = indexed = False
        entry = (felis or {}).get(fld.name.lower())
        if entry is not None:
            unit = str(entry.get("ivoa:unit") or entry.get("fits:tunit") or unit)
            ucd = str(entry.get("ivoa:ucd") or ucd)
            description = str(entry.get("description") or description)
            principal = bool(entry.get("tap:principal", 0))
            indexed = bool(entry.get("_primary", False))
        if fld.name == ra:
            ucd, unit, principal = ucd or "pos.eq.ra;meta.main", unit or "deg", True
        elif fld.name == dec:
            ucd, unit, principal = ucd or "pos.eq.dec;meta.main", unit or "deg", True
        elif fld.name == id_column:
            ucd, principal, indexed = ucd or "meta.id;meta.main", True, True
        nullable = bool(entry.get("nullable", fld.nullable)) if entry else fld.nullable
        out.append(
            ColumnInfo(
                name=fld.name, datatype=arrow_type_name(fld.type), unit=unit, ucd=ucd,
                description=description, principal=principal, indexed=indexed,
                nullable=nullable,
            )
        )
    return tuple(out)


def schema_with_metadata(schema: pa.Schema, columns: tuple[ColumnInfo, ...]) -> pa.Schema:
    """Return ``schema`` with unit/ucd/description stored as Parquet field metadata."""
    by_name = {c.name: c for c in columns}
    fields = []
    for fld in schema:
        col = by_name.get(fld.name)
        if col is None:
            fields.append(fld)
            continue
        meta = {k: v for k, v in
                (("unit", col.unit), ("ucd", col.ucd), ("description", col.description)) if v}
        fields.append(fld.with_metadata(meta or None))
    return pa.schema(fields)
