"""An Aladin Lite view (ipyaladin) of a result or a position, where ipyaladin is installed.

ipyaladin is optional, in the ``notebook`` extra; without it ``aladin_view`` raises an
ImportError that names the extra. The view draws the sky survey images in the browser
(from the CDS HiPS servers), the result's rows as a catalog layer and, given a radius,
the cone's circle. Its text and HTML fallbacks say what it shows.
"""

from __future__ import annotations

import warnings
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from qserv_access.cone import Angle, Center, angle_deg, center_deg
from qserv_access.widgets._extra import require
from qserv_access.widgets.plots import _values

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["AladinView", "aladin_view", "mean_position"]

DEFAULT_SURVEY = "P/DSS2/color"
"""The optical survey Aladin Lite opens with: all-sky, in colour, light to load."""


def mean_position(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[float, float]:
    """Return the mean direction of positions (on the sphere, so RA 359 and 1 give 0).

    Examples
    --------
    >>> [round(v, 6) for v in mean_position(np.array([359.0, 1.0]), np.array([0.0, 0.0]))]
    [0.0, 0.0]
    """
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    x = float(np.nanmean(np.cos(dec) * np.cos(ra)))
    y = float(np.nanmean(np.cos(dec) * np.sin(ra)))
    z = float(np.nanmean(np.sin(dec)))
    ra_mean = float(np.degrees(np.arctan2(y, x))) % 360.0
    dec_mean = float(np.degrees(np.arctan2(z, np.hypot(x, y))))
    return round(ra_mean, 9) % 360.0, round(dec_mean, 9)


def _spread_deg(ra_deg: np.ndarray, dec_deg: np.ndarray, ra0: float, dec0: float) -> float:
    """Largest angular distance of the positions from ``(ra0, dec0)``, in degrees."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    r0, d0 = np.radians(ra0), np.radians(dec0)
    cos_d = np.sin(d0) * np.sin(dec) + np.cos(d0) * np.cos(dec) * np.cos(ra - r0)
    return float(np.degrees(np.nanmax(np.arccos(np.clip(cos_d, -1.0, 1.0))))) if ra.size else 0.0


class AladinView:
    """An ipyaladin widget with what it shows in words (for text and HTML fallbacks).

    Attributes
    ----------
    widget
        The ``ipyaladin.Aladin`` widget.
    center
        ``(ra, dec)`` of the view's centre, degrees.
    fov_deg
        Field of view, degrees.
    rows
        Rows drawn as a catalog layer (0 for a position alone).
    radius_deg
        The cone drawn, when one was given.
    """

    def __init__(self, widget: Any, center: tuple[float, float], fov_deg: float, rows: int,
                 radius_deg: float | None) -> None:
        self.widget = widget
        self.center = center
        self.fov_deg = fov_deg
        self.rows = rows
        self.radius_deg = radius_deg

    @property
    def summary(self) -> str:
        """What the view shows, in one line."""
        ra, dec = self.center
        parts = [f"Aladin view at RA {ra:.5f}°, Dec {dec:+.5f}°, field {self.fov_deg:.3g}°"]
        if self.rows:
            parts.append(f"{self.rows:,} row" + ("" if self.rows == 1 else "s"))
        if self.radius_deg is not None:
            parts.append(f"cone radius {self.radius_deg:.4g}°")
        return ", ".join(parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {}
        widget_bundle = getattr(self.widget, "_repr_mimebundle_", None)
        if widget_bundle is not None:
            data = widget_bundle()
            # anywidget returns (data, metadata).
            bundle.update((data[0] if isinstance(data, tuple) else data) or {})
        bundle["text/plain"] = self.summary
        ra, dec = self.center
        link = (f"https://aladin.cds.unistra.fr/AladinLite/?target={ra:.6f}%20{dec:+.6f}"
                f"&fov={self.fov_deg:.4g}")
        bundle["text/html"] = (f"<div class='qsa-aladin'>{escape(self.summary)} · "
                               f"<a href='{escape(link)}' target='_blank'>open in Aladin Lite"
                               "</a></div>")
        return bundle

    def __repr__(self) -> str:
        return f"<AladinView {self.summary}>"


def aladin_view(source: Table | Center, radius: Angle | None = None, *,
                center: Center | None = None, ra: str = "ra", dec: str = "dec",
                fov: Angle | None = None, survey: str = DEFAULT_SURVEY,
                height: int = 400) -> AladinView:
    """Return an Aladin Lite view of a result's rows, or of a position.

    Parameters
    ----------
    source
        A result table with positions in degrees (drawn as a catalog layer), or a centre:
        a SkyCoord or ``(ra, dec)`` in degrees.
    radius
        A cone's radius (Quantity or degrees): its circle is drawn.
    center
        The view's centre; by default the position given, or the rows' mean position.
    ra, dec
        Position columns of a result table.
    fov
        Field of view (Quantity or degrees); by default the cone or the rows with a margin.
    survey
        HiPS survey to show.
    height
        Height of the view in pixels.

    Returns
    -------
    AladinView
        Display it as a cell's last expression; ``.widget`` is the ``ipyaladin.Aladin``.

    Raises
    ------
    MissingExtraError
        ipyaladin is not installed (``pip install 'qserv-access[notebook]'``).
    QueryRejected
        A bad centre, radius or column.
    """
    from astropy.table import Table

    ipyaladin = require("ipyaladin", "Aladin views")
    radius_deg = None if radius is None else angle_deg(radius, unit="deg", name="radius")
    table = source if isinstance(source, Table) else None
    if table is not None:
        ra_deg, dec_deg = _values(table, ra), _values(table, dec)
        ra0, dec0 = (center_deg(center) if center is not None
                     else mean_position(ra_deg, dec_deg))
        extent = _spread_deg(ra_deg, dec_deg, ra0, dec0)
    else:
        ra0, dec0 = center_deg(center if center is not None else source)  # type: ignore[arg-type]
        extent = 0.0
    if fov is not None:
        fov_deg = angle_deg(fov, unit="deg", name="fov")
    else:
        fov_deg = 2.4 * max(extent, radius_deg or 0.0) or 0.5
    fov_deg = min(fov_deg, 180.0)
    widget = ipyaladin.Aladin(target=f"{ra0:.8f} {dec0:+.8f}", fov=fov_deg, survey=survey,
                              height=height)
    if table is not None and len(table):
        from astropy.io.votable.exceptions import VOWarning

        with warnings.catch_warnings():
            # ipyaladin writes the rows as a VOTable: units it cannot check ('%') are
            # still sent as they are; the warning says nothing the user can act on.
            warnings.simplefilter("ignore", VOWarning)
            widget.add_table(_for_aladin(table, ra, dec), name="result", color="#ffcc00")
    if radius_deg is not None:
        widget.add_graphic_overlay_from_stcs(
            f"CIRCLE ICRS {ra0:.8f} {dec0:+.8f} {radius_deg:.8f}", color="#ff3333")
    return AladinView(widget, (ra0, dec0), fov_deg, 0 if table is None else len(table),
                      radius_deg)


def _for_aladin(table: Table, ra: str, dec: str) -> Table:
    """A copy that ipyaladin can send (as a VOTable) and Aladin Lite can place.

    The position columns are named ``ra`` and ``dec``, which Aladin Lite finds; signed
    bytes become 16-bit integers (VOTable has no signed byte) and objects become text.
    """
    out = table.copy(copy_data=False)
    for old, new in ((ra, "ra"), (dec, "dec")):
        if new != old:
            if new in out.colnames:
                out.rename_column(new, f"{new}_orig")
            out.rename_column(old, new)
    for name in out.colnames:
        kind, size = out[name].dtype.kind, out[name].dtype.itemsize
        if kind == "i" and size == 1:
            out[name] = out[name].astype(np.int16)
        elif kind == "O":
            out[name] = out[name].astype(str)
    return out
