-- query: full-scan-count
-- mode: chunked
-- tasks: 34
-- chunks: 34 of 34
SELECT COUNT(flags) AS n FROM sky.object;
-- task[0]:
SELECT COUNT("flags") AS "__a0" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS "object";
-- merge:
SELECT COALESCE(SUM("__a0"), 0) AS "n" FROM __partials;

-- query: metadata-count
-- mode: metadata
-- tasks: 1
-- chunks: 0 of 34
SELECT COUNT(*) AS n FROM sky.object;
-- task[0]:
SELECT CAST(2000 AS BIGINT) AS "n";
-- merge:
-- (none)

-- query: cone-cluster
-- mode: chunked
-- tasks: 4
-- chunks: 4 of 34
SELECT id, ra, dec FROM sky.object WHERE CONTAINS(POINT(ra, dec), CIRCLE(150.0, 2.0, 0.1)) = 1;
-- task[0]:
SELECT "id", "ra", "dec" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436107.parquet']) WHERE (("_healpix_29" >= 1918018045184311296 AND "_healpix_29" < 1918119200254066688) AND "dec" BETWEEN 1.8999999989999998 AND 2.100000001) AND FMOD("ra" - 149.89993804550818 + 720, 360) <= 0.20012390898366292) AS "object" WHERE (ADQL_IN_CIRCLE("ra", "dec", 150.0, 2.0, 0.1));
-- merge:
-- (none)

-- query: cone-seam-distance
-- mode: chunked
-- tasks: 1
-- chunks: 1 of 34
SELECT id FROM sky.object WHERE DISTANCE(ra, dec, 0.0, 0.0) < 0.5;
-- task[0]:
SELECT "id" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=4.parquet']) WHERE (("_healpix_29" >= 1224935118179663872 AND "_healpix_29" < 1369138267185741824) AND "dec" BETWEEN -0.500000001 AND 0.500000001) AND FMOD("ra" - 359.499999 + 720, 360) <= 1.000002) AS "object" WHERE ADQL_DIST("ra", "dec", 0.0, 0.0) < 0.5;
-- merge:
-- (none)

-- query: cone-pole
-- mode: chunked
-- tasks: 4
-- chunks: 4 of 34
SELECT id FROM sky.object WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(0.0, 90.0, 1.0));
-- task[0]:
SELECT "id" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=1.parquet']) WHERE ("_healpix_29" >= 288076444523823104 AND "_healpix_29" < 1152921504606846976) AND "dec" BETWEEN 88.999999999 AND 91.000000001) AS "object" WHERE (ADQL_IN_CIRCLE("ra", "dec", 0.0, 90.0, 1.0));
-- merge:
-- (none)

-- query: polygon
-- mode: chunked
-- tasks: 9
-- chunks: 11 of 34
SELECT id FROM sky.object WHERE 1 = CONTAINS(POINT(ra, dec), POLYGON(149.8, 1.8, 150.3, 1.9, 150.0, 2.3));
-- task[0]:
SELECT "id" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436107.parquet']) WHERE "_healpix_29" >= 1917262405818122240 AND "_healpix_29" < 1918142015120343040) AS "object" WHERE (ADQL_IN_POLYGON_S("ra", "dec", CAST([149.8, 1.8, 150.3, 1.9, 150.0, 2.3] AS DOUBLE[]), 1.0));
-- merge:
-- (none)

-- query: or-of-regions
-- mode: chunked
-- tasks: 5
-- chunks: 5 of 34
SELECT id FROM sky.object WHERE CONTAINS(POINT(ra, dec), CIRCLE(150.0, 2.0, 0.1)) = 1 OR CONTAINS(POINT(ra, dec), CIRCLE(0.0, 0.0, 0.5)) = 1;
-- task[0]:
SELECT "id" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=4.parquet']) WHERE "_healpix_29" >= 1224908729900597248 AND "_healpix_29" < 1918181597538942976) AS "object" WHERE (ADQL_IN_CIRCLE("ra", "dec", 150.0, 2.0, 0.1)) OR (ADQL_IN_CIRCLE("ra", "dec", 0.0, 0.0, 0.5));
-- merge:
-- (none)

-- query: id-lookup
-- mode: chunked
-- tasks: 2
-- chunks: 2 of 34
SELECT * FROM sky.object WHERE id IN (1000, 2470, 14993);
-- task[0]:
SELECT "object"."id", "object"."ra", "object"."dec", "object"."g_mag", "object"."r_mag", "object"."i_mag", "object"."flags", "object"."z_mag", "object"."name" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=0.parquet']) WHERE "_healpix_29" >= 272606702938241244 AND "_healpix_29" < 1918115336385206563) AS "object" WHERE "id" IN (1000, 2470, 14993);
-- merge:
-- (none)

-- query: child-id-lookup
-- mode: chunked
-- tasks: 1
-- chunks: 1 of 34
SELECT source_id FROM sky.source WHERE object_id = 2470;
-- task[0]:
SELECT "source_id" FROM (SELECT "source_id", "object_id", "ra", "dec", "mjd", "flux" FROM READ_PARQUET(['{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436128.parquet']) WHERE "_healpix_29" >= 1918115336385206562 AND "_healpix_29" < 1918115336385206563) AS "source" WHERE "object_id" = 2470;
-- merge:
-- (none)

-- query: top-order
-- mode: chunked
-- tasks: 34
-- chunks: 34 of 34
SELECT TOP 10 id, dec FROM sky.object ORDER BY dec DESC, id;
-- task[0]:
SELECT "id", "dec" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS "object" ORDER BY "dec" DESC, "id" LIMIT 10;
-- merge:
SELECT "id", "dec" FROM __partials ORDER BY "dec" DESC, "id" LIMIT 10;

-- query: group-by
-- mode: chunked
-- tasks: 34
-- chunks: 34 of 34
SELECT flags, COUNT(*) AS n, AVG(g_mag) AS g, MIN(ra) AS r FROM sky.object GROUP BY flags HAVING COUNT(*) > 30;
-- task[0]:
SELECT "flags" AS "__g0", COUNT(*) AS "__a1", SUM("g_mag") AS "__a2", COUNT("g_mag") AS "__a3", MIN("ra") AS "__a4", COUNT(*) AS "__a5" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS "object" GROUP BY "flags";
-- merge:
SELECT "__g0" AS "flags", COALESCE(SUM("__a1"), 0) AS "n", CAST(SUM("__a2") AS DOUBLE) / NULLIF(SUM("__a3"), 0) AS "g", MIN("__a4") AS "r" FROM __partials GROUP BY "__g0" HAVING COALESCE(SUM("__a5"), 0) > 30;

-- query: distinct-offset
-- mode: chunked
-- tasks: 34
-- chunks: 34 of 34
SELECT DISTINCT flags FROM sky.object ORDER BY flags OFFSET 5;
-- task[0]:
SELECT DISTINCT "flags" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS "object" ORDER BY "flags";
-- merge:
SELECT DISTINCT "flags" FROM __partials ORDER BY "flags" OFFSET 5;

-- query: director-child-join
-- mode: chunked
-- tasks: 4
-- chunks: 4 of 34
SELECT o.id, COUNT(*) AS n FROM sky.object o JOIN sky.source s ON o.id = s.object_id WHERE CONTAINS(POINT(o.ra, o.dec), CIRCLE(150.0, 2.0, 0.1)) = 1 GROUP BY o.id;
-- task[0]:
SELECT "o"."id" AS "__g0", COUNT(*) AS "__a1" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436107.parquet']) WHERE (("_healpix_29" >= 1918018045184311296 AND "_healpix_29" < 1918119200254066688) AND "dec" BETWEEN 1.8999999989999998 AND 2.100000001) AND FMOD("ra" - 149.89993804550818 + 720, 360) <= 0.20012390898366292) AS "o" JOIN (SELECT "source_id", "object_id", "ra", "dec", "mjd", "flux" FROM READ_PARQUET(['{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436107.parquet']) WHERE "_healpix_29" >= 1918018045184311296 AND "_healpix_29" < 1918119200254066688) AS "s" ON "o"."id" = "s"."object_id" WHERE (ADQL_IN_CIRCLE("o"."ra", "o"."dec", 150.0, 2.0, 0.1)) GROUP BY "o"."id";
-- merge:
SELECT "__g0" AS "id", COALESCE(SUM("__a1"), 0) AS "n" FROM __partials GROUP BY "__g0";

-- query: regular-join
-- mode: chunked
-- tasks: 1
-- chunks: 1 of 34
SELECT o.id, f.label FROM sky.object o JOIN sky.flagdefs f ON o.flags = f.flag WHERE o.id = 1000;
-- task[0]:
SELECT "o"."id", "f"."label" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=0.parquet']) WHERE "_healpix_29" >= 288230376151711743 AND "_healpix_29" < 288230376151711744) AS "o" JOIN (SELECT "flag", "label", "weight", "bad" FROM READ_PARQUET(['{DATA}/tables/sky.flagdefs/v0001/data/flagdefs.parquet'])) AS "f" ON "o"."flags" = "f"."flag" WHERE "o"."id" = 1000;
-- merge:
-- (none)

-- query: neighbours
-- mode: crossmatch
-- tasks: 34
-- chunks: 34 of 34
SELECT a.id AS aid, b.id AS bid FROM sky.object a JOIN sky.object b ON 1 = CONTAINS(POINT(a.ra, a.dec), CIRCLE(b.ra, b.dec, 5/3600.)) WHERE a.id <> b.id;
-- task[0]:
SELECT "a"."id" AS "aid", "b"."id" AS "bid" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name", 0 AS "__unit", CAST(FLOOR(("dec" + 90) / 0.001388888888888889) AS BIGINT) AS "__zone" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS __r) AS "a" JOIN (SELECT "__r"."id", "__r"."ra", "__r"."dec", "__r"."g_mag", "__r"."r_mag", "__r"."i_mag", "__r"."flags", "__r"."z_mag", "__r"."name", 0 AS "__unit", CAST(FLOOR(("__r"."dec" + 90) / 0.001388888888888889) AS BIGINT) + "__o"."__d" AS "__zone" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet', '{DATA}/tables/sky.object/v0001/catalog/object_10arcs/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS __r CROSS JOIN (VALUES (-1), (0), (1)) AS "__o"("__d")) AS "b" ON (ADQL_IN_CIRCLE("a"."ra", "a"."dec", "b"."ra", "b"."dec", 5 / 3600.)) AND ("a"."__unit" = "b"."__unit" AND "a"."__zone" = "b"."__zone") WHERE "a"."id" <> "b"."id";
-- merge:
-- (none)

-- query: crossmatch-other
-- mode: crossmatch
-- tasks: 34
-- chunks: 67 of 67
SELECT o.id AS oid, t.id AS tid FROM sky.object o JOIN sky.other t ON 1 = CONTAINS(POINT(o.ra, o.dec), CIRCLE(t.ra, t.dec, 4/3600.));
-- task[0]:
SELECT "o"."id" AS "oid", "t"."id" AS "tid" FROM (SELECT "__r"."id", "__r"."ra", "__r"."dec", "__r"."g_mag", "__r"."r_mag", "__r"."i_mag", "__r"."flags", "__r"."z_mag", "__r"."name", 0 AS "__unit", CAST(FLOOR(("__r"."dec" + 90) / 0.0011111111111111111) AS BIGINT) + "__o"."__d" AS "__zone" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436107.parquet', '{DATA}/tables/sky.object/v0001/catalog/object_10arcs/dataset/Norder=8/Dir=430000/Npix=436107.parquet'])) AS __r CROSS JOIN (VALUES (-1), (0), (1)) AS "__o"("__d")) AS "o" JOIN (SELECT "id", "ra", "dec", "g_mag", 0 AS "__unit", CAST(FLOOR(("dec" + 90) / 0.0011111111111111111) AS BIGINT) AS "__zone" FROM (SELECT "id", "ra", "dec", "g_mag" FROM READ_PARQUET(['{DATA}/tables/sky.other/v0001/catalog/other/dataset/Norder=8/Dir=430000/Npix=436107.parquet'])) AS __r) AS "t" ON (ADQL_IN_CIRCLE("o"."ra", "o"."dec", "t"."ra", "t"."dec", 4 / 3600.)) AND ("t"."__unit" = "o"."__unit" AND "t"."__zone" = "o"."__zone");
-- merge:
-- (none)

-- query: subquery-single
-- mode: chunked
-- tasks: 34
-- chunks: 34 of 34
SELECT id FROM sky.object WHERE flags IN (SELECT flag FROM sky.flagdefs WHERE weight > 6);
-- task[0]:
SELECT "id" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet'])) AS "object" WHERE "flags" IN (SELECT "flag" FROM (SELECT "flag", "label", "weight", "bad" FROM READ_PARQUET(['{DATA}/tables/sky.flagdefs/v0001/data/flagdefs.parquet'])) AS "flagdefs" WHERE "weight" > 6);
-- merge:
-- (none)

-- query: union-single
-- mode: single
-- why single: a set operation (UNION, INTERSECT, EXCEPT) runs as one task
-- tasks: 1
-- chunks: 0 of 68
SELECT id FROM sky.object WHERE id < 1050 UNION SELECT object_id FROM sky.source WHERE object_id < 1050;
-- task[0]:
SELECT "id" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=0.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=1.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=2.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=3.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=4.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=5.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=7.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=9.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=10.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=11.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=1/Dir=0/Npix=24.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=1/Dir=0/Npix=25.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=1/Dir=0/Npix=27.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=2/Dir=0/Npix=104.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=2/Dir=0/Npix=105.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=2/Dir=0/Npix=107.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=3/Dir=0/Npix=424.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=3/Dir=0/Npix=426.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=4/Dir=0/Npix=1702.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=6/Dir=20000/Npix=27257.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109024.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109027.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109033.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109034.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109035.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436104.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436105.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436106.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436107.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436128.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436129.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436130.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436131.parquet'])) AS "object" WHERE "id" < 1050 UNION SELECT "object_id" FROM (SELECT "source_id", "object_id", "ra", "dec", "mjd", "flux" FROM READ_PARQUET(['{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=0.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=1.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=2.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=3.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=4.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=5.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=7.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=8.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=9.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=10.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=0/Dir=0/Npix=11.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=1/Dir=0/Npix=24.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=1/Dir=0/Npix=25.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=1/Dir=0/Npix=27.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=2/Dir=0/Npix=104.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=2/Dir=0/Npix=105.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=2/Dir=0/Npix=107.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=3/Dir=0/Npix=424.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=3/Dir=0/Npix=426.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=4/Dir=0/Npix=1702.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=6/Dir=20000/Npix=27257.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=7/Dir=100000/Npix=109024.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=7/Dir=100000/Npix=109027.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=7/Dir=100000/Npix=109033.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=7/Dir=100000/Npix=109034.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=7/Dir=100000/Npix=109035.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436104.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436105.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436106.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436107.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436128.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436129.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436130.parquet', '{DATA}/tables/sky.source/v0001/catalog/source/dataset/Norder=8/Dir=430000/Npix=436131.parquet'])) AS "source" WHERE "object_id" < 1050;
-- merge:
-- (none)

-- query: right-join-single
-- mode: single
-- why single: not crossmatch: a RIGHT, FULL or USING join; not chunked: a RIGHT or FULL join would repeat unmatched rows in every task
-- tasks: 1
-- chunks: 0 of 34
SELECT o.id, f.label FROM sky.object o RIGHT JOIN sky.flagdefs f ON o.flags = f.flag;
-- task[0]:
SELECT "o"."id", "f"."label" FROM (SELECT "id", "ra", "dec", "g_mag", "r_mag", "i_mag", "flags", "z_mag", "name" FROM READ_PARQUET(['{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=0.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=1.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=2.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=3.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=4.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=5.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=7.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=8.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=9.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=10.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=0/Dir=0/Npix=11.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=1/Dir=0/Npix=24.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=1/Dir=0/Npix=25.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=1/Dir=0/Npix=27.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=2/Dir=0/Npix=104.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=2/Dir=0/Npix=105.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=2/Dir=0/Npix=107.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=3/Dir=0/Npix=424.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=3/Dir=0/Npix=426.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=4/Dir=0/Npix=1702.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=6/Dir=20000/Npix=27257.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109024.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109027.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109033.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109034.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=7/Dir=100000/Npix=109035.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436104.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436105.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436106.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436107.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436128.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436129.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436130.parquet', '{DATA}/tables/sky.object/v0001/catalog/object/dataset/Norder=8/Dir=430000/Npix=436131.parquet'])) AS "o" RIGHT JOIN (SELECT "flag", "label", "weight", "bad" FROM READ_PARQUET(['{DATA}/tables/sky.flagdefs/v0001/data/flagdefs.parquet'])) AS "f" ON "o"."flags" = "f"."flag";
-- merge:
-- (none)

-- query: child-positions-key-lookup
-- mode: chunked
-- tasks: 1
-- chunks: 1 of 34
SELECT sourceId, mjd FROM sky.src WHERE objectId = 1021;
-- task[0]:
SELECT "sourceid", "mjd" FROM (SELECT "sourceId", "objectId", "ra", "dec", "mjd", "psfFlux" FROM READ_PARQUET(['{DATA}/tables/sky.src/v0001/catalog/src/dataset/Norder=0/Dir=0/Npix=4.parquet']) WHERE "_healpix_29" >= 1321055890695345493 AND "_healpix_29" < 1321055890695345494) AS "src" WHERE "objectid" = 1021;
-- merge:
-- (none)

-- query: child-positions-cone
-- mode: chunked
-- tasks: 1
-- chunks: 1 of 34
SELECT sourceId FROM sky.src WHERE CONTAINS(POINT(ra, dec), CIRCLE(0.0011, 0.0, 1/3600.)) = 1;
-- task[0]:
SELECT "sourceid" FROM (SELECT "sourceId", "objectId", "ra", "dec", "mjd", "psfFlux" FROM READ_PARQUET(['{DATA}/tables/sky.src/v0001/catalog/src/dataset/Norder=0/Dir=0/Npix=4.parquet']) WHERE (("_healpix_29" >= 1224979098040795136 AND "_healpix_29" < 1369094287056175104) AND "dec" BETWEEN -0.0002777787777777778 AND 0.0002777787777777778) AND FMOD("ra" - 0.0008212222222222222 + 720, 360) <= 0.0005575555555555556) AS "src" WHERE (ADQL_IN_CIRCLE("ra", "dec", 0.0011, 0.0, 1 / 3600.));
-- merge:
-- (none)
