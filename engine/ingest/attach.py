"""Describe an existing HATS catalog (written by hats-import, lsdb or us) as a manifest."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from engine.catalog import Partition, TableKind, TableManifest
from engine.errors import IngestError
from engine.ingest.metadata import build_columns
from engine.ingest.readers import FieldMeta


def attached_manifest(name: str, hats_dir: Path) -> TableManifest:
    """Return a manifest whose partitions point (absolutely) into ``hats_dir``."""
    import hats
    from hats.catalog import Catalog, CatalogCollection
    from hats.catalog.margin_cache.margin_catalog import MarginCatalog
    from hats.io import paths

    try:
        opened = hats.read_hats(hats_dir)
    except Exception as exc:
        raise IngestError(
            f"{hats_dir}: not a readable HATS catalog or collection ({exc}). Point to the "
            "folder holding 'properties' or 'collection.properties'."
        ) from exc
    margin: MarginCatalog | None = None
    main = opened.main_catalog if isinstance(opened, CatalogCollection) else opened
    if not isinstance(main, Catalog):
        raise IngestError(f"{hats_dir}: a HATS {type(main).__name__}, not an object or source "
                          "catalog; attach the catalog (or its collection) instead.")
    catalog = main
    if isinstance(opened, CatalogCollection) and opened.default_margin_catalog_dir is not None:
        found = hats.read_hats(opened.default_margin_catalog_dir)
        margin = found if isinstance(found, MarginCatalog) else None
    info = catalog.catalog_info
    root = Path(str(catalog.catalog_path))
    margin_files: dict[tuple[int, int], Path] = {}
    if margin is not None:
        for pix in margin.get_healpix_pixels():
            margin_files[(pix.order, pix.pixel)] = Path(
                str(paths.pixel_catalog_file(margin.catalog_base_dir, pix)))
    partitions = []
    for pix in catalog.get_healpix_pixels():
        path = Path(str(paths.pixel_catalog_file(catalog.catalog_base_dir, pix)))
        mpath = margin_files.get((pix.order, pix.pixel))
        partitions.append(Partition(
            order=pix.order, ipix=pix.pixel, nrows=_nrows(path), path=str(path),
            margin_path=str(mpath) if mpath else None,
            margin_nrows=_nrows(mpath) if mpath else 0,
        ))
    schema = catalog.schema
    if schema is None:
        raise IngestError(f"{hats_dir}: the catalog has no _common_metadata schema.")
    meta = {}
    for fld in schema:
        raw = {k.decode(): v.decode() for k, v in (fld.metadata or {}).items()}
        meta[fld.name] = FieldMeta(raw.get("unit", ""), raw.get("ucd", ""),
                                   raw.get("description", ""))
    columns = build_columns(schema, meta, None, ra=info.ra_column, dec=info.dec_column,
                            id_column=None)
    return TableManifest(
        name=name, kind=TableKind.POSITIONAL, columns=columns,
        nrows=sum(p.nrows for p in partitions), ra_column=info.ra_column,
        dec_column=info.dec_column,
        margin_arcsec=float(margin.catalog_info.margin_threshold or 0.0) if margin else 0.0,
        partitions=tuple(partitions), hats_root=str(root),
        extra={"attached_from": str(hats_dir)},
    )


def _nrows(path: Path) -> int:
    """Return a Parquet file's row count from its footer (a folder: sum of its files)."""
    if path.is_dir():
        return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(path.glob("*.parquet")))
    return pq.ParquetFile(path).metadata.num_rows
