"""Queries parsed at once in several threads (a TAP service's requests) keep their own text."""

from __future__ import annotations

import sys
import threading

from engine.adql.parse import parse_adql

QUERIES = [
    "SELECT * FROM bench.objects WHERE CONTAINS(POINT('ICRS', ra, dec), "
    "CIRCLE('ICRS', 150.0, 2.0, 0.05)) = 1",
    "SELECT COUNT(*) AS n FROM bench.objects",
    "SELECT TOP 1000 id, ra FROM bench.objects WHERE mag_r < 20 ORDER BY id",
]


def test_each_thread_gets_the_tree_of_its_own_query() -> None:
    expected = [parse_adql(q).sql() for q in QUERIES]
    wrong: list[str] = []

    def parse_many(index: int) -> None:
        for _ in range(60):
            try:
                got = parse_adql(QUERIES[index % 3]).sql()
            except Exception as exc:  # noqa: BLE001 - a shared tokenizer fails on valid text too
                got = repr(exc)
            if got != expected[index % 3]:
                wrong.append(got)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a loaded machine does
    try:
        threads = [threading.Thread(target=parse_many, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong, f"{len(wrong)} of 360 parses gave another tree, e.g. {wrong[0][:200]}"
