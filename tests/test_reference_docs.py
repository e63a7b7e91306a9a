"""docs/reference/ is generated from the code: it must match what the generator writes now."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "reference"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_reference",
                                                  ROOT / "scripts" / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


def test_reference_docs_are_up_to_date(tmp_path: Path) -> None:
    generator = load_generator()
    written = generator.generate(tmp_path)
    assert sorted(p.name for p in written) == ["cli.md", "python.md"]
    stale = [p.name for p in written
             if not (COMMITTED / p.name).is_file()
             or (COMMITTED / p.name).read_text(encoding="utf-8") != p.read_text(encoding="utf-8")]
    assert not stale, (
        f"docs/reference/{', '.join(stale)} out of date with the code's parsers and docstrings; "
        f"regenerate with `{generator.REGENERATE}` and commit the result")


def test_generation_is_deterministic(tmp_path: Path) -> None:
    generator = load_generator()
    first = {p.name: p.read_text(encoding="utf-8") for p in generator.generate(tmp_path / "a")}
    second = {p.name: p.read_text(encoding="utf-8") for p in generator.generate(tmp_path / "b")}
    assert first == second
