"""MLServer's settings, built from ours: the choices that keep errors 400 and the server stable."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.dummy import DummyRegressor

from core.errors import CalhousingError
from core.features import FEATURE_NAMES
from core.settings import RegistrySettings, ServeSettings, Settings
from inference.loaded import ModelRef, parse_uri
from inference.mlflow_load import check_features
from inference.runtime import HousingRuntime
from inference.runtime_config import RuntimeConfig
from inference.server import build, publish


def _settings(**serve: Any) -> Settings:
    return Settings(
        registry=RegistrySettings(model_name="houses", alias="champion"),
        serve=ServeSettings(http_port=9000, grpc_port=9001, metrics_port=9002, **serve),
    )


def test_server_never_answers_with_a_traceback_and_infers_in_process() -> None:
    server, _ = build(_settings(workdir=Path("/scratch")))

    assert server.debug is False
    assert server.parallel_workers == 0
    assert (server.http_port, server.grpc_port, server.metrics_port) == (9000, 9001, 9002)
    assert server.metrics_dir == "/scratch/metrics"


def test_model_is_served_by_our_runtime_under_the_registry_name() -> None:
    _, model = build(_settings(max_batch_rows=50))

    assert model.name == "houses"
    assert model.implementation is HousingRuntime
    assert model.parameters is not None
    assert model.parameters.uri == "models:/houses@champion"
    config = RuntimeConfig.from_extra(model.parameters.extra)
    assert config.max_batch_rows == 50
    assert config.tracking_uri == "http://127.0.0.1:5000"


def test_the_runtime_config_survives_the_model_settings_file(tmp_path: Path) -> None:
    settings = _settings(workdir=tmp_path, model_wait_s=30)
    server, model = build(settings)

    publish(server, model)
    written = json.loads((tmp_path / "houses" / "model-settings.json").read_text())

    config = RuntimeConfig.from_extra(written["parameters"]["extra"])
    assert config == RuntimeConfig.from_settings(settings)
    assert config.model_wait_s == 30
    assert config.scratch_dir == tmp_path / "models"


def test_a_runtime_config_missing_a_field_is_refused_by_name() -> None:
    extra = RuntimeConfig.from_settings(_settings()).to_extra()
    del extra["tracking_uri"]

    with pytest.raises(ValidationError, match="tracking_uri"):
        RuntimeConfig.from_extra(extra)


def test_an_explicit_model_uri_wins_over_the_alias() -> None:
    _, model = build(_settings(model_uri="models:/houses/7"))

    assert model.parameters is not None
    assert model.parameters.uri == "models:/houses/7"


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("models:/houses@production", ("houses", "production", None)),
        ("models:/houses/12", ("houses", None, "12")),
    ],
)
def test_registry_uris_name_an_alias_or_a_version(uri: str, parsed: tuple[str, ...]) -> None:
    assert parse_uri(uri) == parsed


@pytest.mark.parametrize(
    "uri", ["runs:/abc/model", "models:/houses", "models:/houses/latest", "/tmp/model"]
)
def test_other_uris_are_refused_with_the_accepted_forms(uri: str) -> None:
    with pytest.raises(CalhousingError, match="models:/<name>@<alias>"):
        parse_uri(uri)


def test_a_model_fitted_on_other_columns_is_refused() -> None:
    rows = np.zeros((2, len(FEATURE_NAMES)))

    reordered = DummyRegressor().fit(pd.DataFrame(rows, columns=FEATURE_NAMES[::-1]), [1, 2])
    positional = DummyRegressor().fit(rows, [1, 2])

    with pytest.raises(CalhousingError, match="was fitted on columns"):
        check_features(ModelRef("houses", "3"), reordered)
    check_features(ModelRef("houses", "3"), positional)
