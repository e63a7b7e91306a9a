"""A cone search's rows around its centre, with the search circle drawn as it lies on the sky.

The axes are RA and Dec in degrees, RA increasing to the left (east is left when looking
up), with the aspect ratio 1/cos(Dec of the centre), so that a degree of RA takes
cos(Dec) of a degree of Dec on the page, as on the sky. The circle is the small circle of
points at the radius's great-circle distance from the centre, computed point by point on
the sphere, not an ellipse guessed on the page. A cone that contains a pole has no such
picture in RA and Dec; ``plot_cone`` refuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qserv_access.cone import Angle, Center, angle_deg, center_deg
from qserv_access.widgets._extra import require
from qserv_access.widgets.plots import _values

if TYPE_CHECKING:
    from astropy.table import Table
    from matplotlib.axes import Axes

__all__ = ["circle_points", "plot_cone"]

CIRCLE_POINTS = 361
"""Points along the drawn circle: smooth at any size (one per degree of bearing)."""


def circle_points(ra_deg: float, dec_deg: float, radius_deg: float,
                  n: int = CIRCLE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ra, dec)`` in degrees of ``n`` points at ``radius_deg`` from the centre.

    RA is unwrapped around the centre's (it may go below 0 or above 360), so the points
    make one closed line on a plot.

    Examples
    --------
    >>> ra, dec = circle_points(150.0, 60.0, 1.0, n=5)
    >>> [round(float(d), 6) for d in dec]   # north, east, south, west, north
    [61.0, 59.984889, 59.0, 59.984889, 61.0]
    >>> round(float(ra[1] - 150.0), 3)      # 1 deg east at Dec 60: about 2 deg of RA
    1.999
    """
    bearing = np.linspace(0.0, 2 * np.pi, n)
    d0, r = np.radians(dec_deg), np.radians(radius_deg)
    sin_dec = np.sin(d0) * np.cos(r) + np.cos(d0) * np.sin(r) * np.cos(bearing)
    dec = np.arcsin(np.clip(sin_dec, -1.0, 1.0))
    dra = np.arctan2(np.sin(bearing) * np.sin(r) * np.cos(d0),
                     np.cos(r) - np.sin(d0) * sin_dec)
    return ra_deg + np.degrees(dra), np.degrees(dec)


def _unwrap(ra_deg: np.ndarray, centre_deg: float) -> np.ndarray:
    """RA within 180 deg of the centre's, so a cone across RA 0 stays in one piece."""
    return centre_deg + (ra_deg - centre_deg + 180.0) % 360.0 - 180.0


def plot_cone(result: Table, center: Center, radius: Angle, *, ra: str = "ra",
              dec: str = "dec", color: str | None = None, ax: Axes | None = None,
              s: float = 6.0, title: str | None = None) -> Axes:
    """Plot a cone search's rows and the search circle, RA increasing to the left.

    Parameters
    ----------
    result
        Rows with position columns in degrees (``catalog.cone_search(...)``).
    center
        The cone's centre: a SkyCoord, or ``(ra, dec)`` in degrees.
    radius
        The cone's radius: an angular Quantity, or a number of degrees.
    ra, dec
        Names of the position columns.
    color
        Optional column to colour the points by (with a colour bar naming its unit).
    ax
        Axes to draw into; a new figure by default.
    s
        Marker size.
    title
        Axes title (default: the number of rows, the centre and the radius).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.

    Raises
    ------
    QueryRejected
        A missing column, a bad centre or radius, or a cone that contains a pole.
    """
    from qserv_access.errors import QueryRejected

    plt = require("matplotlib.pyplot", "Plots")
    ticker = require("matplotlib.ticker", "Plots")
    ra0, dec0 = center_deg(center)
    radius_deg = angle_deg(radius, unit="deg", name="radius")
    if abs(dec0) + radius_deg >= 90.0:
        raise QueryRejected(f"The cone at Dec {dec0:g} deg with radius {radius_deg:g} deg "
                            "contains a pole, which has no RA/Dec picture; plot_sky() maps it.")
    if ax is None:
        _fig, ax = plt.subplots(figsize=(5.5, 5.5))
    x = _unwrap(_values(result, ra), ra0)
    y = _values(result, dec)
    if color is None:
        ax.scatter(x, y, s=s, linewidths=0, gid="rows")
    else:
        points = ax.scatter(x, y, s=s, linewidths=0, c=_values(result, color),
                            cmap="viridis", gid="rows")
        unit = result[color].unit
        ax.figure.colorbar(points, ax=ax, fraction=0.046, pad=0.04).set_label(
            f"{color} [{unit}]" if unit else color)
    cra, cdec = circle_points(ra0, dec0, radius_deg)
    ax.plot(cra, cdec, color="tab:red", lw=1.2, gid="cone")
    ax.plot([ra0], [dec0], marker="+", color="tab:red", ms=10, gid="centre")
    margin = 0.05 * radius_deg
    half_width = (float(np.max(cra)) - ra0) + margin / np.cos(np.radians(dec0))
    # RA increases to the left: the left limit is the larger RA.
    ax.set_xlim(ra0 + half_width, ra0 - half_width)
    ax.set_ylim(float(np.min(cdec)) - margin, float(np.max(cdec)) + margin)
    ax.set_aspect(1.0 / np.cos(np.radians(dec0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v % 360.0:g}"))
    ax.set_xlabel("RA (ICRS) [deg], increasing to the left")
    ax.set_ylabel("Dec (ICRS) [deg]")
    rows = f"{len(result):,} row" + ("" if len(result) == 1 else "s")
    ax.set_title(title or f"{rows} within {_radius_words(radius_deg)} of "
                          f"({ra0:.5g}°, {dec0:+.5g}°)")
    ax.grid(True, alpha=0.3)
    return ax


def _radius_words(radius_deg: float) -> str:
    """``2″``, ``3′``, ``1.5°``: the radius in the unit that reads best."""
    if radius_deg < 1.0 / 60.0:
        return f"{radius_deg * 3600:.3g}″"
    if radius_deg < 1.0:
        return f"{radius_deg * 60:.3g}′"
    return f"{radius_deg:.3g}°"
