"""Cross-match a partitioned table with an uploaded one, chunk by chunk.

Each upload row goes to the chunks within the radius of it; a chunk's task sees only
those rows (an in-memory table of its own), joined on declination zones
(:mod:`engine.planning.zones`). Chunks no row is near are not read at all.
"""

from __future__ import annotations

import healpy as hp
import numpy as np
import pyarrow as pa
from sqlglot import exp

from engine.catalog import Partition
from engine.plan import ChunkTask, QueryPlan
from engine.planning.analysis import Analysis, TableRef
from engine.planning.bind import TableSource
from engine.planning.chunks import ChunkChooser
from engine.planning.split import UNSPLITTABLE, split_select
from engine.planning.zones import (
    UNIT,
    ZONE,
    numbered_groups,
    side_rows,
    task_sql,
    with_unit_keys,
    zone_key,
    zone_offsets,
)
from engine.sky.healpix import pixel_range


def plan_upload_match(analysis: Analysis, chooser: ChunkChooser, a: TableRef, b: TableRef,
                      b_pos: tuple[str, str], radius: float) -> QueryPlan | str:
    """Return the plan matching partitioned ``a`` with uploaded ``b`` (positions ``b_pos``)."""
    duck = analysis.duck
    split = split_select(duck, maxrec=analysis.maxrec) if isinstance(duck, exp.Select) else None
    upload = b.source.memory
    if split is None or upload is None:
        return UNSPLITTABLE
    ma = a.source.manifest
    assert ma is not None
    a_parts, a_ranges = chooser.chunks_of(a)
    ra = np.asarray(upload.column(b_pos[0]).to_numpy(zero_copy_only=False), dtype=np.float64)
    dec = np.asarray(upload.column(b_pos[1]).to_numpy(zero_copy_only=False), dtype=np.float64)
    finite = np.isfinite(ra) & np.isfinite(dec)
    rows, part_idx = _units_of_rows(a_parts, np.where(finite, ra % 360, 0.0),
                                    np.where(finite, np.clip(dec, -90, 90), 0.0), radius)
    keep = finite[rows]
    rows, part_idx = rows[keep], part_idx[keep]
    parts = [a_parts[i] for i in sorted(set(part_idx.tolist()))]
    position = {p.chunk_id: i for i, p in enumerate(a_parts)}
    height = max(radius, 1e-9)
    partial = with_unit_keys(split.partial, a, b)
    memory = dict(analysis.memory)
    tasks = []
    for task_no, (unit_base, group) in enumerate(numbered_groups(chooser.groups(parts)
                                                                  or [[]])):
        unit_of = {p.chunk_id: unit_base + k for k, p in enumerate(group)}
        sel = np.isin(part_idx, [position[p.chunk_id] for p in group])
        units = np.array([unit_of[a_parts[i].chunk_id] for i in part_idx[sel]], dtype=np.int64)
        name = f"{b.source.memory_name}__t{task_no}"
        memory[name] = upload.take(pa.array(rows[sel])).append_column(UNIT, pa.array(units))
        a_rel = side_rows(a.source, [(unit_of[p.chunk_id], [p], False) for p in group],
                          a_ranges, ma.dec_column or "dec", height, False)
        b_rel = _memory_side(b.source, name, b_pos[1], height)
        tasks.append(ChunkTask(sql=task_sql(partial, a, a_rel, b_rel),
                               chunks=tuple(p.chunk_id for p in group),
                               memory_tables=(name,)))
    return analysis.plan(
        mode="crossmatch", tasks=tuple(tasks), row_limit=split.row_limit, memory=memory,
        merge_sql=split.merge.sql(dialect="duckdb") if split.merge is not None else None,
        chunks_total=len(ma.partitions))


def _units_of_rows(parts: list[Partition], ra: np.ndarray, dec: np.ndarray,
                   radius_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (row, partition index) pairs: the partitions within ``radius_deg`` of each row."""
    if not parts or len(ra) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = max(p.order for p in parts)
    while order > 0 and hp.nside2resol(1 << order, arcmin=False) * 180 / np.pi < 2 * radius_deg:
        order -= 1
    nside = 1 << order
    own = hp.ang2pix(nside, ra, dec, nest=True, lonlat=True)
    neighbours = hp.get_all_neighbours(nside, ra, dec, nest=True, lonlat=True)
    pixels = np.vstack([own[None, :], neighbours]).astype(np.int64)  # (9, n)
    rows = np.broadcast_to(np.arange(len(ra)), pixels.shape)
    keep = pixels >= 0
    pixels, rows = pixels[keep], rows[keep]
    shift = 2 * (29 - order)
    lo, hi = pixels << shift, (pixels + 1) << shift
    ranges = [pixel_range(p.order, p.ipix) for p in parts]
    order_idx = np.argsort([r[0] for r in ranges])
    starts = np.array([ranges[i][0] for i in order_idx], dtype=np.int64)
    ends = np.array([ranges[i][1] for i in order_idx], dtype=np.int64)
    out_rows, out_parts = [], []
    first = np.searchsorted(ends, lo, side="right")
    for step in range(4 ** max(0, max(p.order for p in parts) - order) + 1):
        idx = first + step
        valid = idx < len(starts)
        idx_c = np.minimum(idx, len(starts) - 1)
        hit = valid & (starts[idx_c] < hi) & (ends[idx_c] > lo)
        if not hit.any():
            break
        out_rows.append(rows[hit])
        out_parts.append(order_idx[idx_c[hit]])
    if not out_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([np.concatenate(out_rows), np.concatenate(out_parts)]), axis=1)
    return pairs[0], pairs[1]


def _memory_side(source: TableSource, name: str, dec: str, height: float) -> exp.Expr:
    """The upload rows of one task (with their unit), tripled onto declination zones."""
    cols = [exp.column(c.name, table="__r", quoted=True) for c in source.columns]
    zone = exp.Add(this=zone_key(exp.column(dec, table="__r", quoted=True), height),
                   expression=exp.column("__d", table="__o", quoted=True))
    return exp.select(*cols, exp.column(UNIT, table="__r", quoted=True),
                      exp.alias_(zone, ZONE, quoted=True)).from_(
        exp.Table(this=exp.to_identifier(name, quoted=True),
                  alias=exp.TableAlias(this=exp.to_identifier("__r", quoted=True)))).join(
        zone_offsets(), join_type="CROSS")
