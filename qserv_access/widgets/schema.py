"""A schema browser for Jupyter: pick a table, see its columns with units, UCDs and
descriptions (from ``catalog.tables``, the engine's manifests or TAP_SCHEMA)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from qserv_access.html import coverage_text, table_info_html
from qserv_access.widgets._extra import require

if TYPE_CHECKING:
    from qserv_access.catalog import Catalog, TableInfo

__all__ = ["SchemaBrowser", "schema_browser"]

log = logging.getLogger(__name__)


def _table_text(info: TableInfo) -> str:
    lines = [f"{info.name}: {info.description}".rstrip(": "),
             f"  {len(info.columns)} columns, {coverage_text(info)}"]
    for c in info.columns:
        unit = f" [{c.unit}]" if c.unit else ""
        lines.append(f"  {c.name}{unit} {c.ucd} {c.description}".rstrip())
    return "\n".join(lines)


class SchemaBrowser:
    """A list of tables and the columns of the one selected.

    Parameters
    ----------
    catalog
        What ``qserv_access.connect`` returned (embedded or a TAP service).
    """

    def __init__(self, catalog: Catalog) -> None:
        w = require("ipywidgets", "Schema browsers")
        self.catalog = catalog
        self.infos = catalog.tables
        names = list(self.infos)
        self.select = w.Select(options=names, value=names[0] if names else None,
                               rows=min(10, max(2, len(names))), description="tables")
        self.columns = w.HTML(value="")
        self.select.observe(self._on_select, names="value")
        self.widget = w.VBox([self.select, self.columns])
        self.widget.add_class("qsa-schema-browser")
        self._show()

    def _on_select(self, _change: dict[str, Any]) -> None:
        try:
            self._show()
        except Exception:  # widget callback boundary: log, never crash the comm
            log.exception("showing table %s failed", self.select.value)

    def _show(self) -> None:
        name = self.select.value
        self.columns.value = "" if name is None else table_info_html(self.infos[name])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {}
        widget_bundle = getattr(self.widget, "_repr_mimebundle_", None)
        if widget_bundle is not None:
            bundle.update(widget_bundle() or {})
        bundle["text/plain"] = "\n".join(_table_text(i) for i in self.infos.values())
        bundle["text/html"] = "".join(table_info_html(i) for i in self.infos.values())
        return bundle

    def __repr__(self) -> str:
        return f"<SchemaBrowser {len(self.infos)} tables>"


def schema_browser(catalog: Catalog) -> SchemaBrowser:
    """Return a schema browser of ``catalog``: its tables, and the selected one's columns
    with types, units, UCDs and descriptions.

    Parameters
    ----------
    catalog
        What ``qserv_access.connect`` returned.

    Returns
    -------
    SchemaBrowser
        Display it as a cell's last expression.

    Raises
    ------
    MissingExtraError
        ipywidgets is not installed (the ``notebook`` extra).
    """
    return SchemaBrowser(catalog)
