"""Between the passes: choose the partitions and where the catalog and its margin go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.ingest import hats_layout
from engine.ingest.partitioning import HISTOGRAM_ORDER, choose_partitions


@dataclass(frozen=True, slots=True)
class PartitionLayout:
    """The partitions of the new version and the folders they are written to."""

    orders: np.ndarray
    ipixs: np.ndarray
    lookup_order: int
    """Order of the dense pixel -> partition lookup (at least the finest partition's)."""
    collection_dir: Path
    catalog_dir: Path
    margin_dir: Path | None
    """The margin catalog (None: no margin)."""
    margin_work: Path
    """Staging folder of the margin shards pass 2 sends between partitions."""

    @property
    def pixels(self) -> list[tuple[int, int]]:
        """(order, ipix) of each partition."""
        return list(zip(self.orders.tolist(), self.ipixs.tolist(), strict=True))


def plan_layout(histogram: np.ndarray, *, max_rows: int, table_part: str, out: Path,
                work: Path, margin_arcsec: float,
                fixed: list[tuple[int, int]] | None = None) -> PartitionLayout:
    """Return the layout: adaptive partitions from the histogram, or ``fixed`` ones (a
    child table takes its director's partitions); a margin when ``margin_arcsec > 0``."""
    if fixed is not None:
        orders = np.array([o for o, _ in fixed], dtype=np.int64)
        ipixs = np.array([p for _, p in fixed], dtype=np.int64)
    else:
        orders, ipixs = choose_partitions(histogram, max_rows)
    lookup = max(HISTOGRAM_ORDER, int(orders.max()) if len(orders) else 0)
    collection = out / "catalog"
    margin_dir = (collection / hats_layout.margin_name(table_part, margin_arcsec)
                  if margin_arcsec > 0 else None)
    margin_work = work / "margin"
    margin_work.mkdir(exist_ok=True)
    return PartitionLayout(orders, ipixs, lookup, collection, collection / table_part,
                           margin_dir, margin_work)
