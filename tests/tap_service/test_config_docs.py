from pathlib import Path

import pytest
from pydantic import ValidationError

from tap_service.config import TapSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented():
    text = DOC.read_text()
    missing = [name for name in TapSettings.model_fields if f"QSA_TAP_{name.upper()}" not in text]
    assert not missing, f"document these settings in {DOC}: {missing}"


def test_settings_come_from_prefixed_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QSA_TAP_DEFAULT_MAXREC", "123")
    monkeypatch.setenv("QSA_TAP_DATA_DIR", str(tmp_path))
    settings = TapSettings()
    assert settings.default_maxrec == 123
    assert settings.resolved_jobs_db == f"sqlite:///{tmp_path / '.tap' / 'jobs.sqlite'}"


def test_inconsistent_limits_are_rejected():
    with pytest.raises(ValidationError, match="default_maxrec"):
        TapSettings(default_maxrec=10, hard_maxrec=5)
