"""Sync queries sent at once to one real server each get their own answer.

A regression test at the TAP level for c00886d: the ADQL tokenizer was one object shared by
every request thread, so two queries tokenized at once could swap tokens (a cone answered
with another query's COUNT(*), valid cones refused as unterminated strings).
"""

from concurrent.futures import ThreadPoolExecutor

import httpx

PAD = ", ".join(str(-i) for i in range(1, 400))
"""A no-op ``NOT IN`` list that makes each query long: tokenizing it then takes longer than
the interpreter's thread switch interval, so concurrent requests interleave inside the
tokenizer (with short queries a shared tokenizer went wrong a few times in thousands)."""

QUERIES = [q.replace("{pad}", PAD) for q in [
    "SELECT id, ra, dec FROM sky.objects WHERE CONTAINS(POINT('ICRS', ra, dec), "
    "CIRCLE('ICRS', 10.0, 5.0, 8.0)) = 1 AND id NOT IN ({pad}) ORDER BY id",
    "SELECT COUNT(*) AS n FROM sky.objects WHERE id NOT IN ({pad})",
    "SELECT TOP 40 source_id, object_id FROM sky.sources WHERE object_id < 3000 "
    "AND source_id NOT IN ({pad}) ORDER BY source_id",
    "SELECT id FROM sky.objects WHERE CONTAINS(POINT('ICRS', ra, dec), "
    "CIRCLE('ICRS', 200.0, -30.0, 12.5)) = 1 AND ra NOT IN ({pad}) ORDER BY id",
    "SELECT 'a quoted ''literal''' AS label, MAX(dec) AS max_dec FROM sky.objects "
    "WHERE ra < 90 AND dec NOT IN ({pad})",
    "SELECT COUNT(*) AS n FROM sky.sources WHERE object_id BETWEEN 1100 AND 5900 "
    "AND object_id NOT IN ({pad})",
]]
ROUNDS = 4
"""Each query sent this many times, all at once from as many threads as requests fit."""


def _sync_csv(client: httpx.Client, url: str, adql: str) -> str:
    response = client.post(url + "/sync", data={
        "REQUEST": "doQuery", "LANG": "ADQL", "QUERY": adql, "RESPONSEFORMAT": "csv"})
    return f"{response.status_code} {response.text}"


def test_concurrent_sync_queries_each_get_the_serial_answer(tap_url):
    with httpx.Client(timeout=60) as client:
        serial = {q: _sync_csv(client, tap_url, q) for q in QUERIES}
    for adql, answer in serial.items():
        assert answer.startswith("200 ") and answer.count("\n") >= 2, (adql, answer[:500])
    assert len(set(serial.values())) == len(QUERIES)  # a swap would be seen

    requests = QUERIES * ROUNDS
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=12)) as client, \
            ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda q: _sync_csv(client, tap_url, q), requests))
    wrong = [(q[:90], a[:200]) for q, a in zip(requests, answers, strict=True) if a != serial[q]]
    assert not wrong, f"{len(wrong)} of {len(requests)} concurrent answers differ: {wrong[:3]}"
