"""Cross-match an astropy Table with a catalog table, at one epoch when stars move.

Two cases, told apart by which side has proper motions:

- **the uploaded table moves** (``pm_ra``/``pm_dec`` given): its positions are moved
  to the catalog's epoch on this side, uploaded, and matched at ``radius``. Exact.
- **the catalog moves** (the uploaded table has no motions, the catalog has
  ``pos.pm`` columns): the service matches at ``radius`` widened by the largest distance
  any catalog star moves between the two epochs, so no pair is pruned early; here each
  candidate's catalog position is moved to the uploaded table's epoch and the pairs
  farther than ``radius`` are dropped. A warning says how far the radius was widened.

The engine routes each uploaded row to every partition within the (widened) radius
of it, so a star that crossed a partition edge between the epochs is still found.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qserv_access import adql
from qserv_access.catalog import UPLOAD_NAME, Catalog, ColumnMeta, TableInfo
from qserv_access.errors import QueryRejected
from qserv_access.motion import (
    check_epoch,
    epoch_from_text,
    max_motion_arcsec,
    propagate,
)

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["MatchRequest", "RadiusWidened", "catalog_epoch", "run_crossmatch"]

ROW = "qsa_row"
"""Uploaded column numbering the rows of the user's table, to join the pairs back."""

DIST = "match_dist_arcsec"


class RadiusWidened(UserWarning):
    """The search radius was widened by the catalog's largest proper motion."""


@dataclass(frozen=True, slots=True)
class MatchRequest:
    """What :meth:`Catalog.crossmatch` was asked, its positions already resolved."""

    other: Table
    ra_column: str
    dec_column: str
    radius_deg: float
    info: TableInfo
    epoch: object = None
    pm_ra: str | None = None
    pm_dec: str | None = None
    catalog_epoch: object = None
    nearest: bool = False
    columns: Sequence[str] | None = None
    other_columns: Sequence[str] | None = None
    maxrec: int | None = None


def catalog_epoch(info: TableInfo) -> float | None:
    """Return the epoch the catalog's metadata gives for its positions, or None.

    Ingest keeps each column's description (from Parquet field metadata, a Felis schema
    or a stream's Arrow fields) and the service publishes it in TAP_SCHEMA, so the
    position columns' descriptions (``right ascension, ICRS, epoch J1991.25``) carry the
    epoch to the embedded engine and to a TAP client alike.
    """
    texts = [c.description for c in info.columns
             if c.name in (info.ra_column, info.dec_column)]
    return epoch_from_text([*texts, info.description])


def _pm_columns(info: TableInfo) -> tuple[ColumnMeta, ColumnMeta] | None:
    by_ucd: dict[str, ColumnMeta] = {}
    for column in info.columns:
        words = column.ucd.split(";")
        if words[0] == "pos.pm" and len(words) > 1 and words[1] in ("pos.eq.ra", "pos.eq.dec"):
            by_ucd.setdefault(words[1], column)
    if len(by_ucd) == 2:
        return by_ucd["pos.eq.ra"], by_ucd["pos.eq.dec"]
    by_name = {c.name.lower(): c for c in info.columns}
    for ra, dec in (("pmra", "pmdec"), ("pm_ra", "pm_dec"), ("pmra_cosdec", "pmdec")):
        if ra in by_name and dec in by_name:
            return by_name[ra], by_name[dec]
    return None


def _values(table: Table, name: str, unit: str, default_unit: str) -> np.ndarray:
    """Return a column as floats in ``unit`` (a column without a unit is in ``default_unit``)."""
    from astropy import units as u

    if name not in table.colnames:
        raise QueryRejected(f"The table has no column '{name}'; it has "
                            f"{', '.join(table.colnames)}.")
    column = table[name]
    data = np.ma.filled(np.ma.asarray(column, dtype=np.float64), np.nan)
    source = column.unit if getattr(column, "unit", None) is not None else u.Unit(default_unit)
    try:
        return np.asarray((data * source).to_value(u.Unit(unit)))
    except u.UnitConversionError as exc:
        raise QueryRejected(f"Column '{name}' is in {source}, not an {unit}-like unit.") from exc


def _separation_arcsec(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray,
                       dec2: np.ndarray) -> np.ndarray:
    """Haversine distance in arcseconds (stable for tiny separations)."""
    r1, d1, r2, d2 = (np.radians(x) for x in (ra1, dec1, ra2, dec2))
    a = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))) * 3600.0


@dataclass(frozen=True, slots=True)
class _Plan:
    upload_ra: np.ndarray
    upload_dec: np.ndarray
    search_deg: float
    catalog_years: float
    """Years to move each catalog row by before the final cut (0: the catalog stays)."""
    catalog_pm: tuple[ColumnMeta, ColumnMeta] | None


def _plan(catalog: Catalog, req: MatchRequest, ra: np.ndarray, dec: np.ndarray) -> _Plan:
    if req.epoch is None:
        if req.pm_ra is not None or req.pm_dec is not None:
            raise QueryRejected("pm_ra/pm_dec need epoch=: the epoch of your table's positions.")
        return _Plan(ra, dec, req.radius_deg, 0.0, None)
    mine = check_epoch(req.epoch, "epoch")
    theirs = (check_epoch(req.catalog_epoch, "catalog_epoch") if req.catalog_epoch is not None
              else catalog_epoch(req.info))
    if theirs is None:
        raise QueryRejected(f"The epoch of '{req.info.name}' is not in its metadata (no "
                            "'epoch J2016.0' in its position columns' descriptions); give "
                            "catalog_epoch=.")
    years = theirs - mine
    if (req.pm_ra is None) != (req.pm_dec is None):
        raise QueryRejected("Give both pm_ra= and pm_dec= (column names of your table).")
    if req.pm_ra is not None and req.pm_dec is not None:
        pmra = _values(req.other, req.pm_ra, "mas/yr", "mas/yr")
        pmdec = _values(req.other, req.pm_dec, "mas/yr", "mas/yr")
        moved_ra, moved_dec = propagate(ra, dec, pmra, pmdec, years)
        return _Plan(moved_ra, moved_dec, req.radius_deg, 0.0, None)
    pm = _pm_columns(req.info)
    if pm is None:
        raise QueryRejected(f"Neither your table (no pm_ra=/pm_dec=) nor '{req.info.name}' "
                            "has proper motions; without them the epochs cannot be joined.")
    if years == 0:
        return _Plan(ra, dec, req.radius_deg, 0.0, None)
    widen_arcsec = _largest_motion(catalog, req.info, pm, years)
    warnings.warn(
        f"'{req.info.name}' has proper motions and its epoch J{theirs:g} differs from yours "
        f"(J{mine:g}) by {abs(years):g} yr: its stars move up to {widen_arcsec:.1f}″, so the "
        f"search radius was widened from {req.radius_deg * 3600:g}″ to "
        f"{req.radius_deg * 3600 + widen_arcsec:.1f}″ before the pairs were cut at "
        f"{req.radius_deg * 3600:g}″ at your epoch.", RadiusWidened, stacklevel=4)
    return _Plan(ra, dec, req.radius_deg + widen_arcsec / 3600.0, -years, pm)


def _largest_motion(catalog: Catalog, info: TableInfo, pm: tuple[ColumnMeta, ColumnMeta],
                    years: float) -> float:
    from astropy import units as u

    ra, dec = adql.identifier(pm[0].name), adql.identifier(pm[1].name)
    row = catalog.query(f"SELECT MAX({ra} * {ra} + {dec} * {dec}) AS pm2 "
                        f"FROM {adql.table_name(info.name)}")
    value = row["pm2"][0] if len(row) else None
    if value is None or np.ma.is_masked(value):
        return 0.0
    scale = float(u.Unit(pm[0].unit or "mas/yr").to(u.mas / u.yr))
    return max_motion_arcsec(np.array([np.sqrt(float(value)) * scale]), np.array([0.0]),
                             years)


def run_crossmatch(catalog: Catalog, req: MatchRequest) -> Table:
    """Run one cross-match as :meth:`Catalog.crossmatch` describes it."""
    from astropy.table import Table

    ra = _values(req.other, req.ra_column, "deg", "deg")
    dec = _values(req.other, req.dec_column, "deg", "deg")
    plan = _plan(catalog, req, ra, dec)
    finite = np.isfinite(plan.upload_ra) & np.isfinite(plan.upload_dec)
    rows = np.flatnonzero(finite)
    upload = Table({ROW: rows.astype(np.int64), "ra": plan.upload_ra[rows],
                    "dec": plan.upload_dec[rows]})
    info = req.info
    assert info.ra_column and info.dec_column
    wanted = list(req.columns) if req.columns is not None else None
    needed = [info.ra_column, info.dec_column]
    if plan.catalog_pm is not None:
        needed += [plan.catalog_pm[0].name, plan.catalog_pm[1].name]
    extra = [] if wanted is None else [c for c in needed if c not in wanted]
    text = adql.crossmatch_query(f"TAP_UPLOAD.{UPLOAD_NAME}", "ra", "dec", info.name,
                                 info.ra_column, info.dec_column,
                                 radius_deg=plan.search_deg, left_columns=[ROW],
                                 right_columns=None if wanted is None else wanted + extra)
    pairs = catalog.query(text, maxrec=req.maxrec, uploads={UPLOAD_NAME: upload})
    overflow = bool(pairs.meta.get("overflow", False))
    index = np.asarray(pairs[ROW], dtype=np.int64)
    if plan.catalog_pm is not None:
        pmra = _values(pairs, plan.catalog_pm[0].name, "mas/yr", "mas/yr")
        pmdec = _values(pairs, plan.catalog_pm[1].name, "mas/yr", "mas/yr")
        cra, cdec = propagate(_values(pairs, info.ra_column, "deg", "deg"),
                              _values(pairs, info.dec_column, "deg", "deg"), pmra, pmdec,
                              plan.catalog_years)
        dist = _separation_arcsec(ra[index], dec[index], cra, cdec)
        keep = dist <= req.radius_deg * 3600.0
        pairs, index = pairs[keep], index[keep]
        pairs[DIST] = dist[keep]
    if req.nearest and len(pairs):
        order = np.lexsort((np.asarray(pairs[DIST]), index))
        first = np.ones(len(order), dtype=bool)
        first[1:] = index[order][1:] != index[order][:-1]
        pairs, index = pairs[order[first]], index[order[first]]
    return _joined(req, pairs, index, extra, overflow)


def _joined(req: MatchRequest, pairs: Table, index: np.ndarray, extra: Sequence[str],
            overflow: bool) -> Table:
    """Return the user's rows beside their catalog rows, then the distance."""
    from astropy import units as u

    mine = req.other if req.other_columns is None else req.other[list(req.other_columns)]
    out = mine[index]
    out.meta = {}
    taken = set(out.colnames)
    for name in pairs.colnames:
        if name in (ROW, DIST) or name in extra:
            continue
        new = f"{name}_cat" if name in taken else name
        out[new] = pairs[name]
    out[DIST] = np.asarray(pairs[DIST], dtype=np.float64) * u.arcsec
    out[DIST].description = "distance between the two positions at the common epoch"
    out.meta["overflow"] = overflow
    return out

