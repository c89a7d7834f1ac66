from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import PredlogSettings, Settings, load_settings


def test_environment_overrides_params_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("registry:\n  model_name: from-file\n  alias: champion\n")
    monkeypatch.setenv("CALHOUSING_REGISTRY__MODEL_NAME", "from-env")

    settings = load_settings(params)

    assert settings.registry.model_name == "from-env"
    assert settings.registry.alias == "champion"  # untouched keys still come from the file


def test_missing_params_file_means_code_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "absent.yaml") == Settings()


def test_unknown_key_in_params_is_rejected_by_name(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  familes: [linear]\n")

    with pytest.raises(ValidationError, match="familes"):
        load_settings(params)


def test_params_file_must_be_a_mapping(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("- a\n- list\n")

    with pytest.raises(ValueError, match="mapping"):
        load_settings(params)


def test_serve_ports_must_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALHOUSING_SERVE__GRPC_PORT", "8080")

    with pytest.raises(ValidationError, match="ports must differ"):
        Settings()


def test_settings_are_frozen() -> None:
    settings = Settings()

    with pytest.raises(ValidationError):
        settings.registry.alias = "other"  # type: ignore[misc]


def test_model_uri_defaults_to_the_registry_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().serve_model_uri == "models:/calhousing@production"
    monkeypatch.setenv("CALHOUSING_SERVE__MODEL_URI", "models:/calhousing/3")
    assert Settings().serve_model_uri == "models:/calhousing/3"


def test_list_settings_parse_json_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALHOUSING_MLFLOW__ALLOWED_HOSTS", '["mlflow", "mlflow:5000"]')

    assert Settings().mlflow.allowed_hosts == ("mlflow", "mlflow:5000")


def test_paths_left_unset_follow_the_run_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALHOUSING_LOCAL__RUN_DIR", "/srv/run")

    settings = Settings(drift={"report_dir": "/reports"})

    assert settings.serve.workdir == Path("/srv/run/mlserver")
    assert settings.mlflow.backend_store_uri == "sqlite:////srv/run/mlflow/mlflow.db"
    assert settings.mlflow.artifacts_destination == "/srv/run/mlflow/artifacts"
    assert settings.predlog.url == "sqlite:////srv/run/predictions.db"
    assert settings.drift.report_dir == Path("/reports")


def test_a_prediction_log_switched_off_stays_off_under_another_run_dir() -> None:
    settings = Settings(local={"run_dir": "/srv/run"}, predlog=PredlogSettings(url=None))

    assert settings.predlog.url is None
    assert settings.serve.workdir == Path("/srv/run/mlserver")


def test_the_default_run_dir_keeps_every_default() -> None:
    assert Settings() == Settings(local={"run_dir": ".run"})
    assert Settings().serve.workdir == Path(".run/mlserver")
