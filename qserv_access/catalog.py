"""The interface ``connect()`` returns, shared by the embedded engine and a TAP service.

Subclasses provide ``query``, ``submit`` and ``_table_infos``; the search helpers here
build their ADQL with :mod:`qserv_access.adql` and run it through ``query``.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qserv_access import adql
from qserv_access.cone import Angle, Center, angle_deg, center_deg, vertices_deg
from qserv_access.errors import QueryRejected

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from qserv_access.jobs import Job

__all__ = ["Catalog", "ColumnMeta", "TableInfo", "warn_overflow"]

UPLOAD_NAME = "t"
"""Name of the uploaded table in cross-matches: ADQL sees it as ``TAP_UPLOAD.t``."""


@dataclass(frozen=True, slots=True)
class ColumnMeta:
    """One column's metadata, as TAP_SCHEMA and VOTable FIELDs give it."""

    name: str
    datatype: str
    unit: str = ""
    ucd: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class TableInfo:
    """One table's metadata: columns and, for positional tables, the position columns."""

    name: str
    description: str
    columns: tuple[ColumnMeta, ...]
    ra_column: str | None = None
    dec_column: str | None = None
    id_column: str | None = None
    nrows: int | None = None
    partitions: int | None = None
    """HEALPix partitions (chunks) holding the rows; None when the catalog does not say."""
    sky_fraction: float | None = None
    """Share of the sky those partitions cover (0..1); None when unknown."""

    @property
    def positional(self) -> bool:
        """True when the table has a position (it can be cone-searched)."""
        return bool(self.ra_column and self.dec_column)

    def _repr_html_(self) -> str:
        from qserv_access.html import table_info_html

        return table_info_html(self)


class Catalog(abc.ABC):
    """Query a catalog with ADQL and search helpers; results are astropy Tables with units."""

    @abc.abstractmethod
    def query(self, adql_text: str, *, maxrec: int | None = None,
              uploads: Mapping[str, Table] | None = None) -> Table:
        """Run ``adql_text`` and return its rows (at most ``maxrec``) as an astropy Table.

        Raises
        ------
        QueryRejected
            The query is not valid ADQL or names unknown tables or columns.
        QueryLimitExceeded
            The query ran too long or asked for too much.
        """

    @abc.abstractmethod
    def submit(self, adql_text: str, *, maxrec: int | None = None,
               uploads: Mapping[str, Table] | None = None) -> Job:
        """Start ``adql_text`` as an asynchronous job and return it at once."""

    @abc.abstractmethod
    def _table_infos(self) -> list[TableInfo]:
        """Return the metadata of every user table (TAP_SCHEMA excluded)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the catalog holds (threads, sessions)."""

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def tables(self) -> dict[str, TableInfo]:
        """Every table by name, with its columns, units, UCDs and position columns."""
        return {t.name: t for t in self._table_infos()}

    def table_info(self, name: str | None = None) -> TableInfo:
        """Return one table's metadata; ``None`` means the first positional table."""
        infos = self._table_infos()
        if name is None:
            for info in infos:
                if info.positional:
                    return info
            raise QueryRejected("This catalog has no positional table; give table=...")
        by_name = {t.name.lower(): t for t in infos}
        found = by_name.get(name.lower())
        if found is None:
            import difflib

            close = difflib.get_close_matches(name.lower(), list(by_name), n=1)
            hint = f" Did you mean '{by_name[close[0]].name}'?" if close else ""
            raise QueryRejected(f"Unknown table '{name}'.{hint}")
        return found

    def _positional(self, name: str | None) -> TableInfo:
        info = self.table_info(name)
        if not info.positional:
            raise QueryRejected(f"Table '{info.name}' has no position columns; "
                                "cone searches and cross-matches need a positional table.")
        return info

    def describe(self, table: str | None = None) -> TableInfo:
        """Return one table's metadata (columns, units, UCDs, descriptions), shown as a
        table in a notebook; ``None`` means the first positional table.

        Raises
        ------
        QueryRejected
            No such table (the message suggests the closest name).
        """
        return self.table_info(table)

    def cone_search(self, center: Center, radius: Angle | None = None, *,
                    table: str | None = None, columns: Sequence[str] | None = None,
                    maxrec: int | None = None, radius_deg: Angle | None = None) -> Table:
        """Return the rows of ``table`` within ``radius`` of ``center``.

        Parameters
        ----------
        center
            A scalar SkyCoord, or ``(ra, dec)`` in degrees (numbers or Quantities).
        radius
            An angular Quantity (``3 * u.arcmin``) or a number of degrees.
        table
            Table to search; by default the first positional table.
        columns
            Columns to return; all by default.
        maxrec
            Return at most this many rows (a longer result warns).
        radius_deg
            Deprecated spelling of the old ``cone_search(ra, dec, radius_deg=r)``.

        Returns
        -------
        astropy.table.Table
            The matching rows, with units.

        Raises
        ------
        QueryRejected
            A position, radius or table name is wrong.
        """
        if radius_deg is not None:
            warnings.warn("cone_search(ra, dec, radius_deg=r) is deprecated; write "
                          "cone_search((ra, dec), r) or cone_search(SkyCoord(...), r).",
                          DeprecationWarning, stacklevel=2)
            if radius is not None:
                center = (center, radius)  # type: ignore[assignment]
            radius = radius_deg
        if radius is None:
            raise QueryRejected("cone_search needs a radius: cone_search(center, 3 * u.arcmin)"
                                " (a bare number means degrees).")
        ra, dec = center_deg(center)
        size = angle_deg(radius, unit="deg", name="radius")
        info = self._positional(table)
        assert info.ra_column and info.dec_column
        text = adql.cone_query(info.name, info.ra_column, info.dec_column, ra_deg=ra,
                               dec_deg=dec, radius_deg=size, columns=columns)
        return self.query(text, maxrec=maxrec)

    def box_search(self, center: Center, width: Angle, height: Angle, *,
                   table: str | None = None, columns: Sequence[str] | None = None,
                   maxrec: int | None = None) -> Table:
        """Return the rows of ``table`` inside the ADQL BOX centred on ``center``.

        ``width`` is measured along the RA great circle through the centre and ``height``
        along the meridian (ADQL's BOX); Quantities or degrees.

        Raises
        ------
        QueryRejected
            A position, size or table name is wrong.
        """
        ra, dec = center_deg(center)
        w = angle_deg(width, unit="deg", name="width")
        h = angle_deg(height, unit="deg", name="height")
        info = self._positional(table)
        assert info.ra_column and info.dec_column
        text = adql.box_query(info.name, info.ra_column, info.dec_column, ra_deg=ra,
                              dec_deg=dec, width_deg=w, height_deg=h, columns=columns)
        return self.query(text, maxrec=maxrec)

    def polygon_search(self, vertices: SkyCoord | Sequence[Center], *,
                       table: str | None = None, columns: Sequence[str] | None = None,
                       maxrec: int | None = None) -> Table:
        """Return the rows of ``table`` inside a spherical polygon.

        ``vertices`` is an array SkyCoord or a sequence of ``(ra, dec)`` (degrees or
        Quantities), at least three, joined by great circles.

        Raises
        ------
        QueryRejected
            Fewer than three vertices, or a vertex off the sky.
        """
        points = vertices_deg(vertices)
        info = self._positional(table)
        assert info.ra_column and info.dec_column
        text = adql.polygon_query(info.name, info.ra_column, info.dec_column, points,
                                  columns=columns)
        return self.query(text, maxrec=maxrec)

    def get(self, ids: Sequence[object] | object, *, table: str | None = None,
            columns: Sequence[str] | None = None) -> Table:
        """Return the rows of ``table`` whose id is one of ``ids``, in the order given.

        The id index sends each id to its one partition. ``table`` defaults to the first
        positional table; ``columns`` to all.

        Raises
        ------
        QueryRejected
            The table has no id column, or ``ids`` is empty.
        """
        info = self.table_info(table)
        if not info.id_column:
            raise QueryRejected(f"Table '{info.name}' has no id column; get() needs one "
                                "(ingest it with --id).")
        values = list(ids) if isinstance(ids, Sequence) and not isinstance(ids, str) \
            else [ids]
        if hasattr(ids, "tolist"):
            values = list(ids.tolist())  # type: ignore[union-attr]
        out = self.query(adql.id_query(info.name, info.id_column, values, columns=columns))
        if info.id_column in out.colnames and len(out) > 1:
            rank = {v: i for i, v in enumerate(values)}
            order = sorted(range(len(out)),
                           key=lambda i: rank.get(out[info.id_column][i], len(rank)))
            out = out[order]
        return out

    def id_lookup(self, ids: Sequence[object] | object, *, table: str | None = None,
                  columns: Sequence[str] | None = None) -> Table:
        """Return the rows whose id is in ``ids``: the former name of :meth:`get`."""
        return self.get(ids, table=table, columns=columns)

    def light_curve(self, object_id: object, *, table: str | None = None,
                    source: str | None = None, time_column: str | None = None,
                    columns: Sequence[str] | None = None) -> Table:
        """Return the child rows (e.g. sources) of one director row, sorted by time.

        Parameters
        ----------
        object_id
            The director row's id.
        table
            The director table; by default the first table that has a child table.
        source
            The child table; by default the director's only child.
        time_column
            The child's time column; by default the one whose UCD is ``time.epoch``
            (or named like ``mjd``/``time``).
        columns
            Child columns to return; all by default.

        Returns
        -------
        astropy.table.Table
            The child rows, with the child table's units, sorted by time.

        Raises
        ------
        QueryRejected
            No director/child pair, or no time column can be told.
        """
        link = self._child_link(table, source)
        child = self.table_info(link.child)
        when = time_column or _time_column(child)
        text = adql.child_query(link.director, link.target_column, link.child,
                                link.from_column, object_id, order_by=when, columns=columns)
        return self.query(text)

    def _child_link(self, director: str | None, child: str | None) -> ChildLink:
        rows = self.query(adql.CHILD_LINKS_QUERY)
        links = [ChildLink(str(r["target_table"]), str(r["from_table"]),
                           str(r["from_column"]), str(r["target_column"])) for r in rows
                 if not str(r["from_table"]).lower().startswith("tap_schema.")]
        if director is not None:
            name = self.table_info(director).name.lower()
            links = [k for k in links if k.director.lower() == name]
        if child is not None:
            name = self.table_info(child).name.lower()
            links = [k for k in links if k.child.lower() == name]
        if not links:
            raise QueryRejected("No director/child table pair found"
                                + (f" for table '{director}'" if director else "")
                                + "; ingest the child with --director TABLE --director-key COL.")
        if len(links) > 1:
            names = ", ".join(f"{k.director} -> {k.child}" for k in links)
            raise QueryRejected(f"Several director/child pairs ({names}); give table= and "
                                "source=.")
        return links[0]

    def crossmatch(self, other: Table | str, radius: Angle | None = None, *,
                   table: str | None = None, epoch: object = None,
                   pm_ra: str | None = None, pm_dec: str | None = None,
                   catalog_epoch: object = None, nearest: bool = False,
                   columns: Sequence[str] | None = None,
                   other_columns: Sequence[str] | None = None,
                   ra_column: str | None = None, dec_column: str | None = None,
                   maxrec: int | None = None, radius_arcsec: Angle | None = None) -> Table:
        """Return every pair of a row of ``other`` and a row of ``table`` within ``radius``.

        With ``epoch`` the positions are compared at one epoch: the side that has proper
        motions is moved to the other side's epoch (see :mod:`qserv_access.crossmatch`).

        Parameters
        ----------
        other
            An astropy Table of positions (uploaded), or the name of another positional
            table of this catalog (matched as it is, without proper motions).
        radius
            Match radius: an angular Quantity (``1 * u.arcsec``) or degrees.
        table
            Catalog table to match against; by default the first positional table.
        epoch
            Epoch of ``other``'s positions (Julian year, ``"J1991.25"`` or a Time).
        pm_ra, pm_dec
            ``other``'s proper-motion columns (mas/yr unless they carry a unit; pm_ra
            includes cos(dec)). Without them, and with ``epoch``, the catalog's own
            proper motions (by UCD ``pos.pm`` or name ``pmra``/``pmdec``) are used.
        catalog_epoch
            Epoch of the catalog's positions; by default read from its metadata
            (``epoch J2016.0`` in the position columns' description).
        nearest
            Keep only the nearest catalog row for each row of ``other``.
        columns, other_columns
            Columns to return from ``table`` and from ``other`` (all by default).
        ra_column, dec_column
            Position columns of an uploaded ``other`` (guessed from UCDs/names if omitted).
        maxrec
            Return at most this many pairs.
        radius_arcsec
            Deprecated: the former keyword, a bare number in arcseconds.

        Returns
        -------
        astropy.table.Table
            One row per pair: ``other``'s columns, then ``table``'s (a name both have gets
            the suffix ``_cat``), then ``match_dist_arcsec`` at the common epoch.

        Raises
        ------
        QueryRejected
            A column, epoch or radius is wrong, or an epoch is needed and unknown.
        """
        from qserv_access.crossmatch import MatchRequest, run_crossmatch

        if radius_arcsec is not None:
            warnings.warn("crossmatch(t, radius_arcsec=x) is deprecated; write "
                          "crossmatch(t, x * u.arcsec).", DeprecationWarning, stacklevel=2)
            radius = angle_deg(radius_arcsec, unit="arcsec", name="radius_arcsec")
        if radius is None:
            raise QueryRejected("crossmatch needs a radius: crossmatch(t, 1 * u.arcsec) "
                                "(a bare number means degrees).")
        size = angle_deg(radius, unit="deg", name="radius")
        info = self._positional(table)
        if isinstance(other, str):
            if epoch is not None or pm_ra is not None:
                raise QueryRejected("epoch= and pm_ra= apply to an uploaded table; match two "
                                    "catalog tables without them.")
            return self._crossmatch_tables(other, info, size, columns, other_columns, maxrec)
        lra, ldec = _position_columns(other, ra_column, dec_column)
        request = MatchRequest(other=other, ra_column=lra, dec_column=ldec, radius_deg=size,
                               info=info, epoch=epoch, pm_ra=pm_ra, pm_dec=pm_dec,
                               catalog_epoch=catalog_epoch, nearest=nearest,
                               columns=columns, other_columns=other_columns, maxrec=maxrec)
        return run_crossmatch(self, request)

    def _crossmatch_tables(self, other: str, info: TableInfo, radius_deg: float,
                           columns: Sequence[str] | None,
                           other_columns: Sequence[str] | None, maxrec: int | None) -> Table:
        left = self._positional(other)
        assert left.ra_column and left.dec_column and info.ra_column and info.dec_column
        text = adql.crossmatch_query(left.name, left.ra_column, left.dec_column, info.name,
                                     info.ra_column, info.dec_column, radius_deg=radius_deg,
                                     left_columns=other_columns, right_columns=columns)
        return self.query(text, maxrec=maxrec)

    def _repr_html_(self) -> str:
        from qserv_access.html import catalog_html

        return catalog_html(repr(self), self._table_infos())


@dataclass(frozen=True, slots=True)
class ChildLink:
    """A director table, its child table and the columns joining them."""

    director: str
    child: str
    from_column: str
    target_column: str


TIME_NAMES = ("mjd", "time", "obs_time", "midpointmjdtai", "expmidptmjd", "obsmjd", "jd",
              "epoch", "date_obs")
"""Time column names tried, in order, when no column has a ``time.epoch`` UCD."""


def _time_column(info: TableInfo) -> str:
    for column in info.columns:
        if column.ucd.split(";")[0] == "time.epoch":
            return column.name
    lowered = {c.name.lower(): c.name for c in info.columns}
    for name in TIME_NAMES:
        if name in lowered:
            return lowered[name]
    raise QueryRejected(f"Cannot tell which column of '{info.name}' holds the time; give "
                        f"time_column= (columns: {', '.join(c.name for c in info.columns)}).")


def warn_overflow(rows: int, maxrec: int | None, *, hard_limit: int | None = None,
                  stacklevel: int = 3) -> None:
    """Warn, loudly and with the numbers, that a result was cut at ``maxrec`` rows.

    The warning is pyvo's ``DALOverflowWarning`` (a ``UserWarning``), so notebooks show it
    and ``warnings.simplefilter("error")`` turns it into an exception.
    """
    from pyvo.dal.exceptions import DALOverflowWarning

    limit = "the service's default limit" if maxrec is None else f"maxrec={maxrec:,}"
    higher = (f" (this service accepts up to {hard_limit:,})" if hard_limit else "")
    warnings.warn(
        f"TRUNCATED RESULT: only the first {rows:,} rows were returned; {limit} was reached "
        f"and more rows match. To get the rest: pass a larger maxrec{higher}, run it as a job "
        "with submit(), or narrow the query (a smaller region, more constraints, or pages "
        "with ORDER BY and OFFSET).", DALOverflowWarning, stacklevel=stacklevel)


RA_NAMES = ("ra", "ra_deg", "raj2000", "ra_icrs", "radeg", "alpha")
DEC_NAMES = ("dec", "dec_deg", "decj2000", "dej2000", "de_icrs", "dec_icrs", "decdeg", "delta")


def _position_columns(table: Table, ra: str | None, dec: str | None) -> tuple[str, str]:
    """Return the (ra, dec) column names of an uploaded table, guessing from UCDs and names."""
    names: list[str] = [str(n) for n in table.colnames]

    def pick(given: str | None, ucd: str, candidates: tuple[str, ...], what: str) -> str:
        if given is not None:
            if given not in names:
                raise QueryRejected(f"The uploaded table has no column '{given}'; it has "
                                    f"{', '.join(names)}.")
            return given
        for n in names:
            if str(table[n].meta.get("ucd", "")).startswith(ucd):
                return n
        lowered = {n.lower(): n for n in names}
        for c in candidates:
            if c in lowered:
                return lowered[c]
        raise QueryRejected(f"Cannot tell which column of the uploaded table holds {what}; "
                            f"pass {what}_column= (columns: {', '.join(names)}).")

    return (pick(ra, "pos.eq.ra", RA_NAMES, "ra"), pick(dec, "pos.eq.dec", DEC_NAMES, "dec"))
