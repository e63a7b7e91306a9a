"""Write the HATS metadata (properties, partition info, _metadata, skymap, collection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import healpy as hp
import numpy as np

from engine.sky.healpix import SPATIAL_INDEX_COLUMN, SPATIAL_INDEX_ORDER

_DIR_STEP = 10_000
"""HATS groups pixel files in ``Dir=`` folders of 10 000 pixel numbers."""

SKYMAP_ORDER = 5
"""Order of the count map we keep (12 288 pixels, a few kB), instead of a point map."""


def partition_file(catalog_dir: Path, order: int, ipix: int) -> Path:
    """Return ``catalog_dir/dataset/Norder=K/Dir=D/Npix=N.parquet`` (the HATS layout).

    Examples
    --------
    >>> partition_file(Path("cat"), 5, 12345).as_posix()
    'cat/dataset/Norder=5/Dir=10000/Npix=12345.parquet'
    """
    directory = (ipix // _DIR_STEP) * _DIR_STEP
    return catalog_dir / "dataset" / f"Norder={order}" / f"Dir={directory}" / f"Npix={ipix}.parquet"


def margin_name(table: str, margin_arcsec: float) -> str:
    """Return the margin catalog's folder name, as hats-import names it (``t_10arcs``)."""
    return f"{table}_{margin_arcsec:g}arcs"


def write_catalog_metadata(
    catalog_dir: Path,
    *,
    name: str,
    kind: str,
    pixels: list[tuple[int, int]],
    total_rows: int,
    ra: str | None,
    dec: str | None,
    max_rows: int | None = None,
    margin_arcsec: float | None = None,
    primary: str | None = None,
    histogram: np.ndarray | None = None,
) -> None:
    """Write properties, partition_info.csv, dataset/_metadata and _common_metadata."""
    from hats.catalog import PartitionInfo
    from hats.catalog.dataset.table_properties import TableProperties
    from hats.io import paths
    from hats.io.parquet_metadata import write_parquet_metadata
    from hats.io.skymap import write_skymap
    from hats.pixel_math.healpix_pixel import HealpixPixel

    write_parquet_metadata(str(catalog_dir))
    hpx = [HealpixPixel(o, p) for o, p in pixels]
    info = PartitionInfo.from_healpix(hpx)
    info.write_to_file(paths.get_partition_info_pointer(str(catalog_dir)))
    fields: dict[str, Any] = {
        "catalog_name": name, "catalog_type": kind, "total_rows": total_rows,
        "ra_column": ra, "dec_column": dec,
        "healpix_column": SPATIAL_INDEX_COLUMN, "healpix_order": SPATIAL_INDEX_ORDER,
        "hats_order": max((o for o, _ in pixels), default=0),
        "moc_sky_fraction": f"{info.calculate_fractional_coverage() if pixels else 0:0.5f}",
        "hats_builder": "qserv-access",
    }
    if max_rows is not None:
        fields["hats_max_rows"] = max_rows
    if kind == "margin":
        fields["margin_threshold"] = margin_arcsec
        fields["primary_catalog"] = primary
    if histogram is not None:
        per = len(histogram) // hp.order2npix(SKYMAP_ORDER)
        write_skymap(histogram.reshape(-1, per).sum(axis=1), str(catalog_dir))
        fields["skymap_order"] = SKYMAP_ORDER
    TableProperties(**fields).to_properties_file(str(catalog_dir))


def write_collection(collection_dir: Path, table: str, margin: str | None) -> None:
    """Write ``collection.properties`` naming the primary catalog and its margin."""
    from hats.catalog.dataset.collection_properties import CollectionProperties

    fields: dict[str, Any] = {"obs_collection": table, "hats_primary_table_url": table}
    if margin:
        fields |= {"all_margins": [margin], "default_margin": margin}
    props = CollectionProperties.model_validate(fields)
    props.to_properties_file(str(collection_dir))


def write_hats(collection_dir: Path, catalog_dir: Path, margin_dir: Path | None, *,
               pixels: list[tuple[int, int]], written: int, margin_rows: int, kind: str,
               ra: str, dec: str | None, max_rows: int, margin_arcsec: float,
               histogram: np.ndarray) -> None:
    """Write the metadata of a new catalog, of its margin catalog, and of their collection."""
    name = catalog_dir.name
    write_catalog_metadata(catalog_dir, name=name, kind=kind, pixels=pixels, total_rows=written,
                           ra=ra, dec=dec, max_rows=max_rows, histogram=histogram)
    if margin_dir is not None:
        write_catalog_metadata(margin_dir, name=margin_dir.name, kind="margin", pixels=pixels,
                               total_rows=margin_rows, ra=ra, dec=dec,
                               margin_arcsec=margin_arcsec, primary=name)
    write_collection(collection_dir, name, margin_dir.name if margin_dir else None)
