"""Quick-look plots of query results: a Mollweide sky map and a histogram (matplotlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qserv_access.widgets._extra import require

if TYPE_CHECKING:
    from astropy.table import Table
    from matplotlib.axes import Axes

__all__ = ["plot_histogram", "plot_sky"]


def _values(table: Table, column: str) -> np.ndarray:
    if column not in table.colnames:
        from qserv_access.errors import QueryRejected

        raise QueryRejected(f"The table has no column '{column}'; it has "
                            f"{', '.join(table.colnames)}.")
    data = table[column]
    filled: np.ndarray = np.ma.filled(np.ma.asarray(data, dtype=float), np.nan)
    return np.asarray(filled, dtype=float)


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
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    plt = require("matplotlib.pyplot", "Plots")
    if ax is None:
        fig = plt.figure(figsize=(8, 4.5))
        ax = fig.add_subplot(111, projection="mollweide")
    ra_deg, dec_deg = _values(table, ra), _values(table, dec)
    # Mollweide axes take longitudes in -pi..pi; negate so that RA grows to the left.
    x = -np.radians(((ra_deg + 180.0) % 360.0) - 180.0)
    y = np.radians(dec_deg)
    points = ax.scatter(x, y, s=s, c=None if color is None else _values(table, color),
                        cmap="viridis", linewidths=0)
    if color is not None:
        unit = table[color].unit
        bar = ax.figure.colorbar(points, ax=ax, orientation="horizontal", pad=0.08,
                                 fraction=0.05)
        bar.set_label(f"{color} [{unit}]" if unit else color)
    ax.set_xticks(np.radians([-150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150]))
    ax.set_xticklabels(["330°", "300°", "270°", "240°", "210°", "180°", "150°", "120°",
                        "90°", "60°", "30°"], fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or f"{len(table):,} rows")
    return ax


def plot_histogram(table: Table, column: str, *, bins: int = 50, ax: Axes | None = None,
                   log: bool = False) -> Axes:
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
    return ax
