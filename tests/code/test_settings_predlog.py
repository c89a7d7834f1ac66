import pytest

from core.settings import Settings


def test_an_empty_prediction_log_url_switches_the_log_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALHOUSING_PREDLOG__URL", "")

    assert Settings().predlog.url is None


def test_the_prediction_log_is_on_by_default_locally() -> None:
    assert Settings().predlog.url == "sqlite:///.run/predictions.db"
