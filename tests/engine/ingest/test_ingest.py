"""End-to-end ingest: HATS layout lsdb opens, append, child tables, metadata, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.catalog import TableKind, read_table
from engine.errors import IngestError
from engine.ingest.api import attach_hats, ingest_files
from engine.ingest.partitioning import HISTOGRAM_ORDER
from engine.sky.healpix import SPATIAL_INDEX_COLUMN, pixel_range
from engine.sky.margins import MARGIN_SLACK_ARCSEC, PartitionMap
from tests.support.sky_oracle import disc_partitions
from tests.support.small_sky import make_small_sky, make_small_sources

REAL = Path("/work/shared/data/catalogs")


@pytest.fixture(scope="module")
def sky(tmp_path_factory):
    root = tmp_path_factory.mktemp("sky")
    objects = make_small_sky(root / "objects.parquet")
    sources = make_small_sources(root / "sources.parquet", objects)
    return root, objects, sources


@pytest.fixture(scope="module")
def catalog(sky, tmp_path_factory):
    _root, objects, sources = sky
    data = tmp_path_factory.mktemp("data")
    ingest_files(data, "dp1.object", [str(objects)], ra="ra", dec="dec", id_column="id",
                 max_rows_per_partition=200, workers=2, progress=False)
    ingest_files(data, "dp1.source", [str(sources)], director="dp1.object",
                 director_key="object_id", ra="ra", dec="dec", workers=1, progress=False)
    return data


def _ingest(data, path, **kw):
    kw.setdefault("ra", "ra")
    kw.setdefault("dec", "dec")
    return ingest_files(data, "t.obj", [str(path)], workers=1, progress=False, **kw)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_row_lands_once_sorted_in_its_partition(catalog, sky):
    table = read_table(catalog, "dp1.object")
    m = table.manifest
    assert m.kind is TableKind.POSITIONAL
    assert m.nrows == 2000
    assert len(m.partitions) > 10
    seen = []
    for p in m.partitions:
        t = pq.read_table(table.resolve(p.path))
        assert t.schema.names[0] == SPATIAL_INDEX_COLUMN
        h = t.column(0).to_numpy()
        lo, hi = pixel_range(p.order, p.ipix)
        assert np.all((h >= lo) & (h < hi))
        assert np.all(np.diff(h) >= 0)
        assert t.num_rows == p.nrows
        seen.extend(t.column("id").to_pylist())
    assert sorted(seen) == sorted(pq.read_table(sky[1]).column("id").to_pylist())
    assert [c.name for c in m.columns] == ["id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags"]
    assert m.column("ra").unit == "deg"
    assert m.column("ra").ucd == "pos.eq.ra;meta.main"
    assert m.column("g_mag").unit == "mag"
    assert m.column("id").ucd == "meta.id;meta.main"
    assert m.hats_root == "catalog/object"


def test_margins_hold_exactly_the_rows_near_each_partition(catalog):
    table = read_table(catalog, "dp1.object")
    m = table.manifest
    pmap = PartitionMap([p.order for p in m.partitions], [p.ipix for p in m.partitions],
                        HISTOGRAM_ORDER)
    everything = pa.concat_tables([pq.read_table(table.resolve(p.path)) for p in m.partitions])
    ids = everything.column("id").to_pylist()
    ra, dec = everything.column("ra").to_numpy(), everything.column("dec").to_numpy()
    own = np.concatenate([np.full(p.nrows, i) for i, p in enumerate(m.partitions)])
    radius = m.margin_arcsec / 3600
    in_margin: dict[int, set[int]] = {}
    for i, p in enumerate(m.partitions):
        margin = pq.read_table(table.resolve(p.margin_path))
        assert margin.num_rows == p.margin_nrows
        for row_id in margin.column("id").to_pylist():
            in_margin.setdefault(row_id, set()).add(i)
    assert in_margin
    for j in range(len(ids)):
        inner = disc_partitions(pmap, ra[j], dec[j], radius * 0.999, 12, 180) - {own[j]}
        assert inner <= in_margin.get(ids[j], set()), ids[j]
    slack = (MARGIN_SLACK_ARCSEC + 0.5) / 3600
    index = {row_id: j for j, row_id in enumerate(ids)}
    for row_id, parts in in_margin.items():
        j = index[row_id]
        assert own[j] not in parts
        assert parts <= disc_partitions(pmap, ra[j], dec[j], radius + slack), row_id


def test_lsdb_opens_the_catalog_with_its_margin(catalog):
    lsdb = pytest.importorskip("lsdb")
    table = read_table(catalog, "dp1.object")
    cat = lsdb.open_catalog(table.root / "catalog")
    assert cat.margin is not None
    assert len(cat.compute()) == 2000
    assert len(cat.margin.compute()) == sum(p.margin_nrows for p in table.manifest.partitions)
    cone = cat.cone_search(150.0, 2.0, 600.0).compute()
    assert len(cone) > 0


def test_id_index_maps_every_id_to_its_partition(catalog):
    table = read_table(catalog, "dp1.object")
    index = pq.read_table(table.resolve(table.manifest.id_index))
    ids = index.column("id").to_numpy()
    assert np.all(np.diff(ids) > 0)
    assert len(ids) == 2000


def test_child_rows_follow_their_director(catalog, sky):
    director = read_table(catalog, "dp1.object").manifest
    child = read_table(catalog, "dp1.source")
    assert child.manifest.kind is TableKind.CHILD
    assert {p.chunk_id for p in child.manifest.partitions} == {
        p.chunk_id for p in director.partitions}
    index = pq.read_table(read_table(catalog, "dp1.object").resolve(director.id_index))
    where = dict(zip(index.column(0).to_pylist(), index.column(1).to_pylist(), strict=True))
    total = 0
    for p in child.manifest.partitions:
        t = pq.read_table(child.resolve(p.path))
        total += t.num_rows
        assert t.column(0).to_pylist() == [where[k] for k in t.column("object_id").to_pylist()]
    assert total == 6000


def test_orphans_fail_unless_allowed(catalog, sky, tmp_path):
    src = pq.read_table(sky[2]).slice(0, 10)
    bad = src.set_column(1, "object_id", pa.array([-5] * 3 + src.column(1).to_pylist()[3:]))
    path = tmp_path / "orphans.parquet"
    pq.write_table(bad, path)
    with pytest.raises(IngestError, match=r"3 row\(s\).*object_id.*orphans.parquet row 1"):
        ingest_files(catalog, "dp1.orph", [str(path)], director="dp1.object",
                     director_key="object_id", workers=1, progress=False)
    assert read_table(catalog, "dp1.orph") is None
    m = ingest_files(catalog, "dp1.orph", [str(path)], director="dp1.object",
                     director_key="object_id", allow_orphans=True, workers=1, progress=False)
    assert m.nrows == 7
    assert m.extra["orphans_dropped"] == 3


def test_append_adds_rows_and_refuses_the_same_file_twice(tmp_path, sky):
    full = pq.read_table(sky[1])
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(full.slice(0, 1200), a)
    pq.write_table(full.slice(1200), b)
    data = tmp_path / "data"
    first = _ingest(data, a, id_column="id")
    before = _tree_digest(data / "tables" / "t.obj" / "v0001")
    second = _ingest(data, b, id_column="id")
    assert (first.nrows, second.nrows, second.version) == (1200, 2000, 2)
    assert len(second.ingested_files) == 2
    with pytest.raises(IngestError, match="already ingested"):
        _ingest(data, a, id_column="id")
    assert _tree_digest(data / "tables" / "t.obj" / "v0001") == before
    assert read_table(data, "t.obj").manifest.version == 2


def test_append_with_a_duplicate_id_fails_and_keeps_published(tmp_path, sky):
    full = pq.read_table(sky[1])
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(full.slice(0, 100), a)
    pq.write_table(full.slice(50, 100), b)
    data = tmp_path / "data"
    _ingest(data, a, id_column="id")
    before = _tree_digest(data / "tables")
    with pytest.raises(IngestError, match=r"Duplicate id 1350 in column 'id'.*b.parquet row 1"):
        _ingest(data, b, id_column="id")
    assert _tree_digest(data / "tables") == before
    assert not any((data / "staging").iterdir())


def _with(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values))


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("ra", float("nan"), r"bad.parquet: column 'ra' is null or NaN at row 5 "),
        ("ra", None, r"bad.parquet: column 'ra' is null or NaN at row 5 "),
        ("dec", 95.0, r"bad.parquet: column 'dec' is out of range \[-90, 90\].*row 5 "),
        ("ra", -1.0, r"bad.parquet: column 'ra' is out of range \[0, 360\].*row 5 "),
    ],
)
def test_bad_positions_name_file_row_and_column(tmp_path, sky, column, value, message):
    t = pq.read_table(sky[1]).slice(0, 20)
    values = t.column(column).to_pylist()
    values[4] = value
    path = tmp_path / "bad.parquet"
    pq.write_table(_with(t, column, values), path)
    with pytest.raises(IngestError, match=message):
        _ingest(tmp_path / "data", path)
    assert read_table(tmp_path / "data", "t.obj") is None


def test_missing_column_suggests_a_close_name(tmp_path, sky):
    with pytest.raises(IngestError, match=r"objects.parquet: no column 'raa'.*Did you mean 'ra'"):
        _ingest(tmp_path, sky[1], ra="raa")


def test_non_numeric_ra_is_rejected(tmp_path, sky):
    t = pq.read_table(sky[1]).slice(0, 5)
    path = tmp_path / "text.parquet"
    pq.write_table(_with(t, "ra", [str(v) for v in t.column("ra").to_pylist()]), path)
    with pytest.raises(IngestError, match=r"text.parquet: column 'ra'.*type string.*numeric"):
        _ingest(tmp_path, path)


def test_truncated_file_is_reported(tmp_path, sky):
    path = tmp_path / "cut.parquet"
    path.write_bytes(Path(sky[1]).read_bytes()[:5000])
    with pytest.raises(IngestError, match=r"cut.parquet: cannot read this file.*truncated"):
        _ingest(tmp_path, path)


def test_csv_fits_and_votable_inputs(tmp_path, sky):
    from astropy.table import Table

    t = Table.read(sky[1]).copy()[:300]
    t["ra"].unit = "deg"
    t["dec"].unit = "deg"
    paths = {"csv": tmp_path / "s.csv", "fits": tmp_path / "s.fits", "vot": tmp_path / "s.vot"}
    t.write(paths["csv"], format="ascii.csv")
    t.write(paths["fits"])
    t.write(paths["vot"], format="votable")
    for kind, path in paths.items():
        m = ingest_files(tmp_path / "data", f"f.{kind}", [str(path)], ra="ra", dec="dec",
                         id_column="id", workers=1, progress=False)
        assert m.nrows == 300, kind
        if kind != "csv":
            assert m.column("ra").unit == "deg", kind


def test_regular_table_is_one_file(tmp_path, sky):
    m = ingest_files(tmp_path, "ref.small", [str(sky[1])], workers=1, progress=False)
    assert m.kind is TableKind.REGULAR
    assert len(m.regular_files) == 1
    table = read_table(tmp_path, "ref.small")
    assert pq.read_table(table.resolve(m.regular_files[0])).num_rows == 2000


def test_felis_yaml_supplies_units_ucds_and_descriptions(tmp_path, sky):
    felis = tmp_path / "schema.yaml"
    felis.write_text("""
name: dp1
tables:
  - name: Obj
    description: Objects of the small sky.
    primaryKey: "#Obj.id"
    columns:
      - name: id
        "@id": "#Obj.id"
        datatype: long
        description: The object id.
      - name: g_mag
        "@id": "#Obj.g_mag"
        datatype: float
        ivoa:unit: mag
        ivoa:ucd: phot.mag;em.opt.B
        description: Green magnitude.
        tap:principal: 1
""")
    m = _ingest(tmp_path / "data", sky[1], id_column="id", schema_yaml=felis)
    assert m.description == "Objects of the small sky."
    g = m.column("g_mag")
    assert (g.ucd, g.description, g.principal) == ("phot.mag;em.opt.B", "Green magnitude.", True)
    assert m.column("id").indexed
    assert m.column("id").description == "The object id."
    with pytest.raises(IngestError, match="no table 'nope'"):
        ingest_files(tmp_path / "d2", "t.nope", [str(sky[1])], schema_yaml=felis, workers=1,
                     progress=False)


def test_attach_registers_a_catalog_without_copying(catalog, tmp_path):
    source = read_table(catalog, "dp1.object")
    m = attach_hats(tmp_path, "ext.object", source.root / "catalog")
    assert m.nrows == 2000
    assert len(m.partitions) == len(source.manifest.partitions)
    assert all(Path(p.path).is_absolute() and Path(p.path).is_file() for p in m.partitions)
    assert m.margin_arcsec == 10.0
    assert all(p.margin_path for p in m.partitions)
    assert m.column("ra").unit == "deg"
    with pytest.raises(IngestError, match="not a readable HATS catalog"):
        attach_hats(tmp_path, "ext.bad", tmp_path)


def test_attach_a_catalog_written_by_lsdb(tmp_path, sky):
    lsdb = pytest.importorskip("lsdb")
    df = pq.read_table(sky[1]).to_pandas()
    cat = lsdb.from_dataframe(df, ra_column="ra", dec_column="dec", margin_threshold=10.0,
                              catalog_name="sky")
    cat.write_catalog(tmp_path / "lsdb_sky", as_collection=True)
    m = attach_hats(tmp_path / "data", "ext.sky", tmp_path / "lsdb_sky")
    assert m.nrows == 2000
    assert any(p.margin_path for p in m.partitions)


@pytest.mark.skipif(not (REAL / "tycho2_region.parquet").exists(),
                    reason="real catalogs not present in /work/shared/data/catalogs")
def test_real_region_catalog_round_trips(tmp_path):
    path = REAL / "tycho2_region.parquet"
    m = ingest_files(tmp_path, "ref.tycho2", [str(path)], ra="ra", dec="dec",
                     id_column="tyc_idx", workers=1, progress=False)
    assert m.nrows == pq.ParquetFile(path).metadata.num_rows
    assert m.column("ra").description


def test_ctrl_c_cleans_staging_and_keeps_published(tmp_path, sky, monkeypatch):
    from engine.ingest import scan as scan_mod

    data = tmp_path / "data"
    full = pq.read_table(sky[1])
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(full.slice(0, 100), a)
    pq.write_table(full.slice(100, 100), b)
    _ingest(data, a)
    before = _tree_digest(data / "tables")

    def interrupted(job):
        raise KeyboardInterrupt

    monkeypatch.setattr(scan_mod, "spill_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _ingest(data, b)
    assert _tree_digest(data / "tables") == before
    assert not any((data / "staging").iterdir())


def test_big_parquet_split_over_jobs_keeps_row_numbers_and_counts(tmp_path, sky, monkeypatch):
    from engine.ingest import api

    monkeypatch.setattr(api, "SPLIT_ROWS", 300)
    t = pq.read_table(sky[1])
    good = tmp_path / "good.parquet"
    pq.write_table(t, good, row_group_size=100)
    m = _ingest(tmp_path / "d1", good, id_column="id")
    assert m.nrows == 2000
    assert m.ingested_files[0].rows == 2000
    values = t.column("dec").to_pylist()
    values[1749] = 91.0
    bad = tmp_path / "bad.parquet"
    pq.write_table(_with(t, "dec", values), bad, row_group_size=100)
    with pytest.raises(IngestError, match=r"bad.parquet: column 'dec' is out of range.* row 1750 "):
        _ingest(tmp_path / "d2", bad)
    ids = t.column("id").to_pylist()
    ids[1500] = 1000
    dup = _with(t, "id", ids)
    dupf = tmp_path / "dup.parquet"
    pq.write_table(dup, dupf, row_group_size=100)
    with pytest.raises(IngestError, match=r"Duplicate id 1000 .*dup.parquet row 1; .*row 1501\b"):
        _ingest(tmp_path / "d3", dupf, id_column="id")
