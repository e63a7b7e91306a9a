"""Every geometry-valued ADQL function, with what a client must read back for it.

One wide query selects all of them at once, each followed by a scalar column (``id``),
so a geometry column written with the wrong layout shows up both in its own values and
in the column after it. Expected values are computed here from each row's ``ra``/``dec``
with numpy, independently of the engine's SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Values = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(ra_deg, dec_deg) per row -> expected values, one row (or one scalar) per input row."""


@dataclass(frozen=True)
class GeometryCase:
    name: str
    adql: str
    """The select item, with ``{ra}`` and ``{dec}`` standing for the position columns."""
    expected: Values
    arraysize: str | None
    xtype: str | None
    unit: str
    ucd: str


def _rows(*columns: np.ndarray) -> np.ndarray:
    return np.stack(np.broadcast_arrays(*columns), axis=1)


def _unit(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)


def _polygon_centroid(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    vertices = [(ra, dec), (ra + 1, dec), (ra, dec + 1)]
    x, y, z = sum(_unit(a, d) for a, d in vertices).T
    return _rows(np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arctan2(z, np.hypot(x, y))))


def _triangle_centroid(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    x, y, z = (_unit(ra, dec) + _unit(np.array(10.0), np.array(5.0))
               + _unit(np.array(11.0), np.array(6.0))).T
    return _rows(np.degrees(np.arctan2(y, x)) % 360.0, np.degrees(np.arctan2(z, np.hypot(x, y))))


def _triangle_area(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    a, b, c = _unit(ra, dec), _unit(ra + 1, dec), _unit(ra, dec + 1)
    triple = np.abs(np.einsum("ij,ij->i", a, np.cross(b, c)))
    dots = 1 + np.einsum("ij,ij->i", a, b) + np.einsum("ij,ij->i", b, c) \
        + np.einsum("ij,ij->i", c, a)
    return np.degrees(np.degrees(2 * np.arctan2(triple, dots)))


def _distance_to(ra0: float, dec0: float) -> Values:
    def distance(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        dots = _unit(ra, dec) @ _unit(np.array(ra0), np.array(dec0))
        cross = np.linalg.norm(np.cross(_unit(ra, dec), _unit(np.array(ra0), np.array(dec0))),
                               axis=-1)
        return np.degrees(np.arctan2(cross, dots))
    return distance


_CAP_1DEG = 2 * np.pi * (1 - np.cos(np.radians(1.0))) * (180 / np.pi) ** 2

CASES: tuple[GeometryCase, ...] = (
    GeometryCase("g_point", "POINT('ICRS', {ra}, {dec})", lambda ra, dec: _rows(ra, dec),
                 "2", "point", "deg", "pos.eq"),
    GeometryCase("g_circle", "CIRCLE('ICRS', {ra}, {dec}, 0.5)",
                 lambda ra, dec: _rows(ra, dec, 0.5), "3", "circle", "deg", "pos.outline"),
    GeometryCase("g_circle_at_point", "CIRCLE(POINT('ICRS', {ra}, {dec}), 0.25)",
                 lambda ra, dec: _rows(ra, dec, 0.25), "3", "circle", "deg", "pos.outline"),
    GeometryCase("g_box", "BOX('ICRS', {ra}, {dec}, 1, 0.5)",
                 lambda ra, dec: _rows(ra - 0.5, dec - 0.25, ra + 0.5, dec - 0.25,
                                       ra + 0.5, dec + 0.25, ra - 0.5, dec + 0.25),
                 "*", "polygon", "deg", "pos.outline"),
    GeometryCase("g_polygon", "POLYGON('ICRS', {ra}, {dec}, {ra} + 1, {dec}, {ra}, {dec} + 1)",
                 lambda ra, dec: _rows(ra, dec, ra + 1, dec, ra, dec + 1),
                 "*", "polygon", "deg", "pos.outline"),
    GeometryCase("g_polygon_of_points",
                 "POLYGON(POINT('ICRS', {ra}, {dec}), POINT('ICRS', {ra} + 2, {dec}), "
                 "POINT('ICRS', {ra} + 2, {dec} + 1), POINT('ICRS', {ra}, {dec} + 1))",
                 lambda ra, dec: _rows(ra, dec, ra + 2, dec, ra + 2, dec + 1, ra, dec + 1),
                 "*", "polygon", "deg", "pos.outline"),
    GeometryCase("g_centroid_circle", "CENTROID(CIRCLE('ICRS', {ra}, {dec}, 1))",
                 lambda ra, dec: _rows(ra, dec), "2", "point", "deg", "pos.eq"),
    GeometryCase("g_centroid_polygon",
                 "CENTROID(POLYGON('ICRS', {ra}, {dec}, {ra} + 1, {dec}, {ra}, {dec} + 1))",
                 _polygon_centroid, "2", "point", "deg", "pos.eq"),
    GeometryCase("g_centroid_one_row_vertex",
                 "CENTROID(POLYGON('ICRS', {ra}, {dec}, 10, 5, 11, 6))",
                 _triangle_centroid, "2", "point", "deg", "pos.eq"),
    GeometryCase("g_distance", "DISTANCE(POINT('ICRS', {ra}, {dec}), POINT('ICRS', 150, 2))",
                 _distance_to(150.0, 2.0), None, None, "deg", "pos.angDistance"),
    GeometryCase("g_coord1", "COORD1(POINT('ICRS', {ra}, {dec}))", lambda ra, dec: ra,
                 None, None, "deg", "pos.eq.ra"),
    GeometryCase("g_coord2", "COORD2(POINT('ICRS', {ra}, {dec}))", lambda ra, dec: dec,
                 None, None, "deg", "pos.eq.dec"),
    GeometryCase("g_area", "AREA(CIRCLE('ICRS', {ra}, {dec}, 1))",
                 lambda ra, dec: np.full(len(ra), _CAP_1DEG), None, None, "deg**2",
                 "phys.angArea"),
    GeometryCase("g_area_polygon",
                 "AREA(POLYGON('ICRS', {ra}, {dec}, {ra} + 1, {dec}, {ra}, {dec} + 1))",
                 _triangle_area, None, None, "deg**2", "phys.angArea"),
    GeometryCase("g_area_point", "AREA(POINT('ICRS', {ra}, {dec}))",
                 lambda ra, dec: np.zeros(len(ra)), None, None, "deg**2", "phys.angArea"),
)

ARRAY_CASES = tuple(c for c in CASES if c.arraysize is not None)


def after(case: GeometryCase) -> str:
    """Name of the scalar column selected right after a case's column."""
    return f"{case.name}_next"


def wide_select(source: str, *, ra: str = "ra", dec: str = "dec", key: str = "id",
                cases: tuple[GeometryCase, ...] = CASES, top: int = 40) -> str:
    """The select list: key, ra, dec, then each case followed by the key again."""
    items = [f"{key} AS k", f"{ra} AS ra", f"{dec} AS dec"]
    for case in cases:
        items += [f"{case.adql.format(ra=ra, dec=dec)} AS {case.name}", f"{key} AS {after(case)}"]
    return f"SELECT TOP {top} {', '.join(items)} FROM {source}"


WIDE = wide_select("sky.objects") + " WHERE dec BETWEEN -60 AND 60 ORDER BY k"
"""Rows away from the poles, where the box and polygon vertices stay ordinary numbers."""
EMPTY = wide_select("sky.objects") + " WHERE dec > 90"
UPLOAD_ROWS = {"tid": [1, 2, 3, 4], "ra": [10.0, None, 30.0, 40.0],
               "dec": [-5.0, 6.0, None, 8.0]}
"""An upload whose rows 2 and 3 lack a coordinate: their geometry values are NULL."""
NULLS = wide_select("TAP_UPLOAD.targets AS t", ra="t.ra", dec="t.dec", key="t.tid") \
    + " ORDER BY k"
"""Every case over the upload: a NULL coordinate makes every geometry (and every number
measured on it) NULL."""


# ---------------------------------------------------------------- reading results back


@dataclass
class ReadBack:
    """A result as one client read it: values and NULL flags per column, and FIELD metadata."""

    values: dict[str, np.ndarray]
    nulls: dict[str, np.ndarray]
    fields: dict[str, dict[str, str | None]]
    """name -> datatype, arraysize, xtype, unit, ucd (what the client was told)."""


def _is_null(value: object) -> bool:
    if value is None or value is np.ma.masked:
        return True
    array = np.ma.asarray(value)
    if array.size == 0:
        # TABLEDATA writes a NULL array as an empty cell; no geometry value is empty.
        return True
    if np.ma.getmaskarray(array).all():
        return True
    # FITS and astropy's Parquet reader carry a NULL float array as NaNs.
    return bool(array.dtype.kind == "f" and np.isnan(np.ma.filled(array, np.nan)).all())


def _cells(values: list[object]) -> tuple[np.ndarray, np.ndarray]:
    nulls = np.array([_is_null(v) for v in values], dtype=bool)
    cells = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        cells[i] = None if nulls[i] else np.ma.filled(np.ma.asarray(v, dtype=float), np.nan)
    return cells, nulls


def from_astropy(table: object, fields: dict[str, dict[str, str | None]] | None = None
                 ) -> ReadBack:
    """Read an astropy Table (from VOTable, FITS or Parquet); FIELDs from the VOTable if given."""
    values, nulls = {}, {}
    for name in table.colnames:  # type: ignore[attr-defined]
        column = table[name]  # type: ignore[index]
        if column.dtype.kind in "US":
            texts = [None if v is np.ma.masked else str(v) for v in column]
            values[name], nulls[name] = _cells([_numbers(t) for t in texts])
            continue
        masked = np.ma.getmaskarray(column) if column.ndim == 1 else np.zeros(len(column), bool)
        values[name], nulls[name] = _cells([None if m else v for v, m in zip(
            column, masked, strict=True)])
    return ReadBack(values, nulls, fields or {})


def votable_fields(vot: object) -> dict[str, dict[str, str | None]]:
    """FIELD metadata of the first table of a parsed VOTable (astropy.io.votable)."""
    out = {}
    for f in vot.get_first_table().fields:  # type: ignore[attr-defined]
        out[f.name] = {"datatype": f.datatype, "arraysize": f.arraysize, "xtype": f.xtype,
                       "unit": None if f.unit is None else f.unit.to_string("vounit"),
                       "ucd": f.ucd}
    return out


def _numbers(text: str | None) -> list[float] | None:
    """Array text as TABLEDATA, CSV and FITS strings write it: numbers separated by blanks."""
    if text is None or text.strip() == "":
        return None
    return [float(x) for x in text.split()]


def from_rows(header: list[str], rows: list[list[object]]) -> ReadBack:
    """Read CSV/TSV/JSON rows (array cells as blank-separated text or JSON lists)."""
    values, nulls = {}, {}
    for i, name in enumerate(header):
        cells = [r[i] for r in rows]
        cells = [_numbers(c) if isinstance(c, str) else c for c in cells]
        values[name], nulls[name] = _cells(cells)
    return ReadBack(values, nulls, {})


def check(read: ReadBack, cases: tuple[GeometryCase, ...] = CASES, *,
          tolerance: float = 1e-9) -> None:
    """Assert every case's values, NULLs and the column after it; metadata when known."""
    scalars = {name: np.array([np.nan if v is None else float(np.ravel(v)[0]) for v in col])
               for name, col in read.values.items() if name in ("k", "ra", "dec")}
    missing = read.nulls["ra"] | read.nulls["dec"]
    present = ~missing
    for case in cases:
        null = read.nulls[case.name]
        assert np.array_equal(null, missing), f"{case.name}: NULL rows {null} != {missing}"
        next_values = np.array([float(np.ravel(v)[0]) for v in read.values[after(case)]])
        np.testing.assert_array_equal(next_values, scalars["k"],
                                      err_msg=f"the column after {case.name} is shifted")
        want = case.expected(scalars["ra"][present], scalars["dec"][present])
        got = [np.ravel(v) for v, ok in zip(read.values[case.name], present, strict=True) if ok]
        assert len(got) == len(want)
        for index, (row, expected) in enumerate(zip(got, want, strict=True)):
            np.testing.assert_allclose(row, np.ravel(expected), rtol=0, atol=tolerance,
                                       err_msg=f"{case.name}, row {index}")
        if read.fields:
            check_field(read.fields[case.name], case)


def check_field(field: dict[str, str | None], case: GeometryCase) -> None:
    """Assert what a format tells about a case's column (the keys that format has)."""
    want = {"datatype": "double", "arraysize": case.arraysize, "xtype": case.xtype,
            "unit": case.unit, "ucd": case.ucd}
    told = {k: field[k] for k in want if k in field}
    assert told, (case.name, field)
    assert told == {k: want[k] for k in told}, (case.name, field)
