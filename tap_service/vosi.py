"""VOSI 1.1 documents: capabilities (with TAPRegExt), availability and the tableset."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from engine.catalog import ColumnInfo, TableKind, TableManifest
from engine.tap_schema import TAP_SCHEMA_KEYS, TAP_SCHEMA_TABLES, adql_name, votable_type
from tap_service.config import TapSettings
from tap_service.formats import FORMATS

_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt"

LANGUAGE_FEATURES: dict[str, tuple[str, ...]] = {
    "features-adqlgeo": ("POINT", "CIRCLE", "BOX", "POLYGON", "CONTAINS", "INTERSECTS",
                         "DISTANCE", "AREA", "COORD1", "COORD2", "COORDSYS"),
    "features-adql-string": ("LOWER", "UPPER", "ILIKE"),
    "features-adql-offset": ("OFFSET",),
    "features-adql-type": ("CAST",),
    "features-adql-unit": ("IN_UNIT",),
    "features-adql-common-table": ("WITH",),
    "features-adql-sets": ("UNION", "EXCEPT", "INTERSECT"),
}
# ADQL 2.1's features-adql-conditional (COALESCE, NULLIF) is implemented too, but not
# declared: taplint (STILTS 3.4) rejects that key as an unknown TAPRegExt feature.
"""ADQL 2.1 optional features the engine implements, as TAPRegExt names them."""


def _limit(tag: str, default: int, hard: int, unit: str | None = None) -> str:
    u = f' unit="{unit}"' if unit else ""
    return f"<{tag}><default{u}>{default}</default><hard{u}>{hard}</hard></{tag}>"


def job_limits_text(settings: TapSettings) -> str:
    """The per-owner async limits in words: TAPRegExt has no element for them, so they go in
    the TAP capability's description (VOResource allows one before the interfaces)."""
    return (
        "Async jobs: each owner (bearer token, or client address when anonymous) may hold "
        f"{settings.max_active_jobs_per_owner} unfinished jobs and "
        f"{settings.max_result_bytes_per_owner} bytes of stored results; one result may "
        f"take {settings.max_result_bytes} bytes."
    )


def capabilities_xml(settings: TapSettings, base_url: str) -> str:
    """Return the VOSI capabilities document of the service at ``base_url`` (…/tap)."""
    features = "".join(
        f'<languageFeatures type="{TAPREGEXT}#{kind}">'
        + "".join(f"<feature><form>{form}</form></feature>" for form in forms)
        + "</languageFeatures>"
        for kind, forms in LANGUAGE_FEATURES.items()
    )
    formats = "".join(
        (f'<outputFormat ivo-id="{f.ivo_id}">' if f.ivo_id else "<outputFormat>")
        + f"<mime>{escape(f.mime)}</mime>"
        + "".join(f"<alias>{escape(a)}</alias>" for a in f.aliases if "/" not in a or a == f.key)
        + "</outputFormat>"
        for f in FORMATS
    )
    ed_default = int(settings.default_execution_duration.total_seconds())
    ed_hard = int(settings.max_execution_duration.total_seconds())
    rp_default = int(settings.default_destruction.total_seconds())
    rp_hard = int(settings.max_destruction.total_seconds())
    tap = (
        f'<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">'
        f"<description>{escape(job_limits_text(settings))}</description>"
        f'<interface xsi:type="vs:ParamHTTP" role="std" version="1.1">'
        f'<accessURL use="base">{escape(base_url)}</accessURL></interface>'
        "<language><name>ADQL</name>"
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>'
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.1">2.1</version>'
        "<description>ADQL 2.1 on spatially partitioned catalogs</description>"
        f"{features}</language>"
        f"{formats}"
        f'<uploadMethod ivo-id="{TAPREGEXT}#upload-inline"/>'
        # URL uploads make the service fetch what a client names: declared only where the
        # operator has turned them on, since a client that reads the declaration relies on it.
        + (f'<uploadMethod ivo-id="{TAPREGEXT}#upload-http"/>'
           f'<uploadMethod ivo-id="{TAPREGEXT}#upload-https"/>'
           if settings.upload_allow_urls else "")
        + _limit("retentionPeriod", rp_default, rp_hard)
        + _limit("executionDuration", ed_default, ed_hard)
        + _limit("outputLimit", settings.default_maxrec, settings.hard_maxrec, "row")
        + _limit("uploadLimit", settings.upload_max_bytes, settings.upload_max_bytes, "byte")
        + "</capability>"
    )
    vosi = "".join(
        f'<capability standardID="{sid}"><interface xsi:type="vs:ParamHTTP">'
        f'<accessURL use="full">{escape(base_url)}/{path}</accessURL></interface></capability>'
        for sid, path in (
            ("ivo://ivoa.net/std/VOSI#capabilities", "capabilities"),
            ("ivo://ivoa.net/std/VOSI#availability", "availability"),
            ("ivo://ivoa.net/std/VOSI#tables-1.1", "tables"),
        )
    )
    examples = (
        '<capability standardID="ivo://ivoa.net/std/DALI#examples">'
        f'<interface xsi:type="vr:WebBrowser"><accessURL use="full">{escape(base_url)}/examples'
        "</accessURL></interface></capability>"
    )
    return (
        f'{_HEAD}<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        f'xmlns:xsi="{XSI}" xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0">\n'
        f"{tap}\n{vosi}\n{examples}\n</vosi:capabilities>\n"
    )


def availability_xml(available: bool, note: str) -> str:
    """Return the VOSI availability document."""
    return (
        f'{_HEAD}<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
        f"<vosi:available>{'true' if available else 'false'}</vosi:available>"
        f"<vosi:note>{escape(note)}</vosi:note></vosi:availability>\n"
    )


def tap_schema_manifests() -> list[TableManifest]:
    """Return manifests describing the TAP_SCHEMA tables themselves."""
    return [
        TableManifest(name=name, kind=TableKind.REGULAR, columns=cols, nrows=0, description=desc)
        for name, (cols, desc) in TAP_SCHEMA_TABLES.items()
    ]


def _column_xml(col: ColumnInfo, manifest: TableManifest) -> str:
    datatype, arraysize, xtype = votable_type(col.datatype)
    attrs = f' arraysize="{arraysize}"' if arraysize else ""
    if xtype:
        attrs += f" extendedType={quoteattr(xtype)}"
    parts = [f"<name>{escape(adql_name(col.name))}</name>"]
    if col.description:
        parts.append(f"<description>{escape(col.description)}</description>")
    if col.unit:
        parts.append(f"<unit>{escape(col.unit)}</unit>")
    if col.ucd:
        parts.append(f"<ucd>{escape(col.ucd)}</ucd>")
    parts.append(f'<dataType xsi:type="vs:VOTableType"{attrs}>{datatype}</dataType>')
    if col.indexed or col.name == manifest.id_column:
        parts.append("<flag>indexed</flag>")
    if col.name == manifest.id_column:
        parts.append("<flag>primary</flag>")
    if col.nullable and col.name != manifest.id_column:
        parts.append("<flag>nullable</flag>")
    return "<column>" + "".join(parts) + "</column>"


def _fk_xml(target: str, from_col: str, target_col: str) -> str:
    return (
        f"<foreignKey><targetTable>{escape(target)}</targetTable>"
        f"<fkColumn><fromColumn>{escape(from_col)}</fromColumn>"
        f"<targetColumn>{escape(target_col)}</targetColumn></fkColumn></foreignKey>"
    )


def _foreign_keys(manifest: TableManifest, by_name: dict[str, TableManifest]) -> str:
    own = "".join(_fk_xml(parent, col, parent_col)
                  for _, child, col, parent, parent_col in TAP_SCHEMA_KEYS
                  if child == manifest.name.lower())
    if own:
        return own
    if manifest.kind != TableKind.CHILD or not manifest.director or not manifest.director_key:
        return ""
    director = by_name.get(manifest.director.lower())
    if director is None or not director.id_column:
        return ""
    return _fk_xml(director.name.lower(), manifest.director_key, director.id_column)


def table_xml(manifest: TableManifest, by_name: dict[str, TableManifest], *,
              detail: bool = True, root: bool = False) -> str:
    """Return a VODataService table element (the root vosi:table with ``root``)."""
    tag = "vosi:table" if root else "table"
    ns = (' xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
          f'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" xmlns:xsi="{XSI}"'
          if root else "")
    desc = f"<description>{escape(manifest.description)}</description>" \
        if manifest.description else ""
    body = ""
    if detail:
        body = "".join(_column_xml(c, manifest) for c in manifest.columns)
        body += _foreign_keys(manifest, by_name)
    return (f'<{tag}{ns} type="output"><name>{escape(manifest.name.lower())}</name>{desc}'
            f"{body}</{tag}>")


def tableset_xml(manifests: Sequence[TableManifest], *, detail: bool = True) -> str:
    """Return the VOSI tableset document (TAP_SCHEMA's own tables included)."""
    everything = sorted(manifests, key=lambda m: m.name) + tap_schema_manifests()
    by_name = {m.name.lower(): m for m in everything}
    schemas: dict[str, list[TableManifest]] = {}
    for m in everything:
        schemas.setdefault(m.schema_name.lower(), []).append(m)
    parts = []
    for schema, tables in schemas.items():
        desc = "metadata of this TAP service" if schema == "tap_schema" else f"schema {schema}"
        parts.append(
            f"<schema><name>{escape(schema)}</name><description>{escape(desc)}</description>"
            + "".join(table_xml(t, by_name, detail=detail) for t in tables)
            + "</schema>"
        )
    return (
        f'{_HEAD}<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
        f'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" xmlns:xsi="{XSI}">\n'
        + "\n".join(parts) + "\n</vosi:tableset>\n"
    )
