"""QSA_TAP_QUERY_MEMORY_MB reaches the engine, and queries spill inside the work directory."""

from __future__ import annotations

import os

from tap_service.app import open_engine
from tap_service.config import TapSettings


def test_query_memory_setting_is_the_engines_budget(monkeypatch, tmp_path):
    monkeypatch.setenv("QSA_TAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QSA_TAP_QUERY_MEMORY_MB", "96")
    settings = TapSettings()
    engine = open_engine(settings)
    try:
        assert engine.options.memory_limit_bytes == 96 << 20
        assert engine.options.spill_dir == tmp_path / "data" / ".tap" / "spill"
        # Each database spills into a private folder there (removed when the process ends).
        assert [p.name.split("-")[0] for p in engine.options.spill_dir.iterdir()] == [
            str(os.getpid())]
    finally:
        engine.close()


def test_query_memory_default_is_a_share_of_the_machine(tmp_path):
    from engine.execute.duck import DEFAULT_MEMORY_FRACTION, machine_memory_bytes

    engine = open_engine(TapSettings(data_dir=tmp_path / "data"))
    try:
        budget = engine.options.memory_budget(engine.data_dir)
        assert budget.limit_bytes == int(machine_memory_bytes() * DEFAULT_MEMORY_FRACTION)
        assert budget.limit_bytes < machine_memory_bytes()
    finally:
        engine.close()
