from datetime import timedelta
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


DURATIONS = [name for name, info in TapSettings.model_fields.items()
             if "timedelta" in str(info.annotation)]


def test_every_duration_setting_is_found():
    assert {"sync_timeout", "default_execution_duration", "max_execution_duration",
            "default_destruction", "max_destruction", "cleanup_interval"} <= set(DURATIONS)


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(("text", "seconds"), [("30", 30), (" 30 ", 30), ("0.5", 0.5),
                                               ("PT30S", 30), ("PT1H", 3600), ("P1D", 86400)])
def test_durations_accept_seconds_and_iso_8601(monkeypatch, name, text, seconds):
    monkeypatch.setenv("QSA_TAP_" + name.upper(), text)
    # Keep the cross-field checks satisfied whatever is being set.
    if name == "default_execution_duration":
        monkeypatch.setenv("QSA_TAP_MAX_EXECUTION_DURATION", "P2D")
    if name == "max_execution_duration":
        monkeypatch.setenv("QSA_TAP_DEFAULT_EXECUTION_DURATION", "0.5")
    assert getattr(TapSettings(), name) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["0", "-5", "PT0S", "inf", "soon", "1e400"])
def test_durations_that_are_not_positive_are_refused_naming_the_setting(monkeypatch, text):
    monkeypatch.setenv("QSA_TAP_SYNC_TIMEOUT", text)
    with pytest.raises(ValidationError, match="sync_timeout"):
        TapSettings()
