"""Quick-look plots of query results: Mollweide sky maps (points, HEALPix density) and a
histogram (matplotlib).

Sky maps follow the astronomical convention: RA 0° in the centre, increasing to the left
(east is left when looking up at the sky), Dec up. RA labels sit under the map, each
below the point where its meridian crosses the equator, so they never cover the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qserv_access.widgets._extra import require

if TYPE_CHECKING:
    from astropy.table import Table
    from matplotlib.axes import Axes

    from qserv_access.catalog import Catalog

__all__ = ["RA_TICKS_DEG", "plot_density", "plot_histogram", "plot_sky", "sky_x"]

RA_TICKS_DEG = (150, 120, 90, 60, 30, 0, 330, 300, 270, 240, 210)
"""RA of the labelled meridians, left to right."""


def _values(table: Table, column: str) -> np.ndarray:
    if column not in table.colnames:
        from qserv_access.errors import QueryRejected

        raise QueryRejected(f"The table has no column '{column}'; it has "
                            f"{', '.join(table.colnames)}.")
    data = table[column]
    filled: np.ndarray = np.ma.filled(np.ma.asarray(data, dtype=float), np.nan)
    return np.asarray(filled, dtype=float)


def sky_x(ra_deg: np.ndarray | float) -> np.ndarray:
    """Mollweide x (radians, -pi..pi) of an RA: RA 0 in the centre, increasing to the left.

    Examples
    --------
    >>> [round(float(np.degrees(sky_x(ra)))) for ra in (0, 90, 150, 270, 359)]
    [0, -90, -150, 90, 1]
    """
    wrapped = (np.asarray(ra_deg, dtype=float) + 180.0) % 360.0 - 180.0
    return np.asarray(-np.radians(wrapped))


def _sky_axes(ax: Axes | None) -> Axes:
    plt = require("matplotlib.pyplot", "Plots")
    if ax is None:
        fig = plt.figure(figsize=(8, 4.8))
        ax = fig.add_subplot(111, projection="mollweide")
    return ax


def _label_sky(ax: Axes) -> None:
    """Grid, RA labels under the map (one per meridian, at its equator crossing), axis names."""
    ax.set_xticks(sky_x(np.array(RA_TICKS_DEG, dtype=float)))
    ax.set_xticklabels([])
    ax.grid(True, alpha=0.3)
    ax.tick_params(axis="y", labelsize=8)
    for ra in RA_TICKS_DEG:
        # At the equator Mollweide x is linear in longitude over the whole axes width.
        x_axes = 0.5 + float(sky_x(ra)) / (2 * np.pi)
        ax.text(x_axes, -0.02, f"{ra}°", transform=ax.transAxes, ha="center", va="top",
                fontsize=8, gid="ra-label")
    ax.text(0.5, -0.09, "RA (ICRS) [deg], increasing to the left", transform=ax.transAxes,
            ha="center", va="top", fontsize=9)
    ax.set_ylabel("Dec (ICRS) [deg]", fontsize=9)


def ra_labels(ax: Axes) -> list[tuple[float, str]]:
    """Return the RA labels of a sky map as (display x, text), left to right."""
    ax.figure.canvas.draw()
    out = []
    for text in ax.texts:
        if text.get_gid() == "ra-label":
            box = text.get_window_extent()
            out.append(((box.x0 + box.x1) / 2, text.get_text()))
    return sorted(out)


def plot_sky(table: Table, *, ra: str = "ra", dec: str = "dec", color: str | None = None,
             ax: Axes | None = None, s: float = 1.0, title: str | None = None) -> Axes:
    """Plot positions on an all-sky Mollweide map (RA increasing to the left, as on the sky).

    Parameters
    ----------
    table
        Rows with position columns in degrees.
    ra, dec
        Names of the position columns.
    color
        Optional column to colour the points by (with a colour bar).
    ax
        A Mollweide axes to draw into; a new figure by default.
    s
        Marker size.
    title
        Axes title (default: the number of rows).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    ax = _sky_axes(ax)
    ra_deg, dec_deg = _values(table, ra), _values(table, dec)
    x, y = sky_x(ra_deg), np.radians(dec_deg)
    if color is None:
        points = ax.scatter(x, y, s=s, linewidths=0)
    else:
        points = ax.scatter(x, y, s=s, linewidths=0, c=_values(table, color), cmap="viridis")
    if color is not None:
        unit = table[color].unit
        bar = ax.figure.colorbar(points, ax=ax, orientation="horizontal", pad=0.14,
                                 fraction=0.05)
        bar.set_label(f"{color} [{unit}]" if unit else color)
    _label_sky(ax)
    ax.set_title(title or f"{len(table):,} row" + ("" if len(table) == 1 else "s"), pad=14)
    return ax


def density_counts(source: Catalog | Table, table: str | None = None, *, order: int,
                   ra: str = "ra", dec: str = "dec") -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ipix, n)``: rows per NESTED HEALPix pixel at ``order``.

    For a catalog and a table name the engine counts (no rows are fetched); for a result
    table the rows at hand are binned here.

    Raises
    ------
    QueryRejected
        A remote catalog (a TAP service cannot count per HEALPix pixel), an unknown or
        non-positional table, or a bad order.
    """
    from astropy.table import Table

    if isinstance(source, Table):
        hp = require("healpy", "Density maps")
        pix = hp.ang2pix(1 << order, _values(source, ra), _values(source, dec), nest=True,
                         lonlat=True)
        ipix, n = np.unique(pix, return_counts=True)
        return ipix.astype(np.int64), n.astype(np.int64)
    from qserv_access.errors import QueryRejected
    from qserv_access.local import LocalCatalog, translated_errors

    if table is None:
        raise QueryRejected("Name the table to map: plot_density(catalog, 'schema.table').")
    if not isinstance(source, LocalCatalog):
        raise QueryRejected(
            "A whole-table density map is counted by the embedded engine; for a TAP service, "
            "query the rows (or a sample) and pass the result: plot_density(result, order=...).")
    with translated_errors():
        counts = source.engine.density(table, order)
    return (np.asarray(counts["ipix"], dtype=np.int64), np.asarray(counts["n"], dtype=np.int64))


def plot_density(source: Catalog | Table, table: str | None = None, *, order: int = 5,
                 ax: Axes | None = None, title: str | None = None, ra: str = "ra",
                 dec: str = "dec", resolution: int = 720) -> Axes:
    """Plot a HEALPix density map (rows per square degree) on a Mollweide map.

    Parameters
    ----------
    source
        An embedded catalog (then ``table`` names the table, and the engine counts the
        rows per pixel without fetching them), or a result table with positions.
    table
        ``schema.table`` of a catalog.
    order
        HEALPix order of the pixels (NESTED): 5 is 12,288 pixels of 3.4 deg².
    ax
        A Mollweide axes to draw into; a new figure by default.
    title
        Axes title (default: what is mapped and at which order).
    ra, dec
        Position columns of a result table.
    resolution
        Width of the drawn image in cells.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    hp = require("healpy", "Density maps")
    colors = require("matplotlib.colors", "Plots")
    ipix, n = density_counts(source, table, order=order, ra=ra, dec=dec)
    nside = 1 << order
    per_deg2 = np.zeros(hp.nside2npix(nside))
    per_deg2[ipix] = n / hp.nside2pixarea(nside, degrees=True)
    ax = _sky_axes(ax)
    lon_edges = np.linspace(-np.pi, np.pi, resolution + 1)
    lat_edges = np.linspace(-np.pi / 2, np.pi / 2, resolution // 2 + 1)
    lon_c = (lon_edges[:-1] + lon_edges[1:]) / 2
    lat_c = (lat_edges[:-1] + lat_edges[1:]) / 2
    grid_lon, grid_lat = np.meshgrid(lon_c, lat_c)
    # Axes x is minus the (wrapped) RA: RA grows to the left.
    pix = hp.ang2pix(nside, np.degrees(-grid_lon) % 360.0, np.degrees(grid_lat), nest=True,
                     lonlat=True)
    image = np.ma.masked_less_equal(per_deg2[pix], 0.0)
    positive = image.compressed()
    norm = (colors.LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size
            else None)
    mesh = ax.pcolormesh(lon_edges, lat_edges, image, norm=norm, cmap="magma",
                         shading="flat", rasterized=True)
    bar = ax.figure.colorbar(mesh, ax=ax, orientation="horizontal", pad=0.14, fraction=0.05)
    bar.set_label("rows per deg²")
    # A log scale spanning less than a decade labels its minor ticks, on top of each other.
    bar.ax.xaxis.set_minor_formatter(require("matplotlib.ticker", "Plots").NullFormatter())
    _label_sky(ax)
    what = f"{table}: " if table is not None else ""
    ax.set_title(title or f"{what}{int(n.sum()):,} rows, HEALPix order {order}", pad=14)
    return ax


def plot_histogram(table: Table, column: str, *, bins: int = 50, ax: Axes | None = None,
                   log: bool = False, title: str | None = None) -> Axes:
    """Plot a histogram of ``column``, labelled with its unit; NaN and masked values skipped.

    Parameters
    ----------
    table
        Rows holding ``column``.
    column
        Column to histogram.
    bins
        Number of bins.
    ax
        Axes to draw into; a new figure by default.
    log
        Logarithmic counts.
    title
        Axes title (none by default).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    plt = require("matplotlib.pyplot", "Plots")
    if ax is None:
        _fig, ax = plt.subplots(figsize=(6, 3.5))
    values = _values(table, column)
    values = values[np.isfinite(values)]
    ax.hist(values, bins=bins, log=log, color="tab:blue", alpha=0.8)
    unit = table[column].unit
    ax.set_xlabel(f"{column} [{unit}]" if unit else column)
    ax.set_ylabel("rows")
    if title:
        ax.set_title(title)
    return ax
