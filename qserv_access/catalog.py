"""The interface ``connect()`` returns, shared by the embedded engine and a TAP service.

Subclasses provide ``query``, ``submit`` and ``_table_infos``; the search helpers here
build their ADQL with :mod:`qserv_access.adql` and run it through ``query``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qserv_access import adql
from qserv_access.cone import Angle, angle_deg, position_deg
from qserv_access.errors import QueryRejected

if TYPE_CHECKING:
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from qserv_access.jobs import Job

__all__ = ["Catalog", "ColumnMeta", "TableInfo"]

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

    @property
    def positional(self) -> bool:
        """True when the table has a position (it can be cone-searched)."""
        return bool(self.ra_column and self.dec_column)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{c.name}</td><td>{c.datatype}</td><td>{c.unit}</td>"
                       f"<td>{c.ucd}</td><td>{c.description}</td></tr>" for c in self.columns)
        return (f"<b>{self.name}</b> {self.description}<table><tr><th>name</th><th>type</th>"
                f"<th>unit</th><th>ucd</th><th>description</th></tr>{rows}</table>")


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

    def cone_search(self, ra_deg: SkyCoord | Angle, dec_deg: Angle | None = None, *,
                    radius_deg: Angle, table: str | None = None,
                    columns: Sequence[str] | None = None,
                    maxrec: int | None = None) -> Table:
        """Return the rows of ``table`` within ``radius_deg`` of a position.

        Parameters
        ----------
        ra_deg, dec_deg
            ICRS position in degrees (numbers or Quantities), or a SkyCoord as ``ra_deg``.
        radius_deg
            Cone radius in degrees, or an angular Quantity.
        table
            Table to search; by default the first positional table.
        columns
            Columns to return; all by default.
        maxrec
            Return at most this many rows.

        Returns
        -------
        astropy.table.Table
            The matching rows, with units.
        """
        ra, dec = position_deg(ra_deg, dec_deg)
        radius = angle_deg(radius_deg, unit="deg", name="radius_deg")
        info = self._positional(table)
        assert info.ra_column and info.dec_column
        text = adql.cone_query(info.name, info.ra_column, info.dec_column, ra_deg=ra,
                               dec_deg=dec, radius_deg=radius, columns=columns)
        return self.query(text, maxrec=maxrec)

    def crossmatch(self, other: Table | str, *, radius_arcsec: Angle, table: str | None = None,
                   columns: Sequence[str] | None = None,
                   other_columns: Sequence[str] | None = None,
                   ra_column: str | None = None, dec_column: str | None = None,
                   maxrec: int | None = None) -> Table:
        """Return every pair of a row of ``other`` and a row of ``table`` closer than a radius.

        Parameters
        ----------
        other
            An astropy Table of positions (uploaded as ``TAP_UPLOAD.t``) or the name of
            another positional table of this catalog.
        radius_arcsec
            Match radius in arcseconds, or an angular Quantity.
        table
            Catalog table to match against; by default the first positional table.
        columns, other_columns
            Columns to return from ``table`` and from ``other`` (all by default).
        ra_column, dec_column
            Position columns of an uploaded ``other`` (guessed from names/UCDs if omitted).
        maxrec
            Return at most this many pairs.

        Returns
        -------
        astropy.table.Table
            One row per pair, ``other``'s columns first, then ``table``'s, then
            ``match_dist_arcsec``.
        """
        radius = angle_deg(radius_arcsec, unit="arcsec", name="radius_arcsec")
        info = self._positional(table)
        assert info.ra_column and info.dec_column
        uploads: dict[str, Table] | None = None
        if isinstance(other, str):
            left = self._positional(other)
            assert left.ra_column and left.dec_column
            left_name, lra, ldec = left.name, left.ra_column, left.dec_column
        else:
            lra, ldec = _position_columns(other, ra_column, dec_column)
            left_name = f"TAP_UPLOAD.{UPLOAD_NAME}"
            uploads = {UPLOAD_NAME: other}
        text = adql.crossmatch_query(left_name, lra, ldec, info.name, info.ra_column,
                                     info.dec_column, radius_deg=radius,
                                     left_columns=other_columns, right_columns=columns)
        return self.query(text, maxrec=maxrec, uploads=uploads)

    def id_lookup(self, ids: Sequence[object] | object, *, table: str | None = None,
                  columns: Sequence[str] | None = None) -> Table:
        """Return the rows of ``table`` whose id is in ``ids`` (one partition read per id)."""
        info = self.table_info(table)
        if not info.id_column:
            raise QueryRejected(f"Table '{info.name}' has no id column.")
        values = list(ids) if isinstance(ids, Sequence) and not isinstance(ids, str) else [ids]
        return self.query(adql.id_query(info.name, info.id_column, values, columns=columns))


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
