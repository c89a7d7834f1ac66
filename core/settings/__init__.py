"""One frozen, typed settings object, fed by params.yaml and the environment.

params.yaml holds what shapes a model (DVC tracks those keys per stage); the environment
holds where things run (ports, URIs), and overrides any key: `CALHOUSING_<SECTION>__<KEY>`,
e.g. `CALHOUSING_MLFLOW__TRACKING_URI=http://mlflow:5000`. Nothing else reads os.environ.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.settings.base import RUN_DIR, Section
from core.settings.model import (
    DataSettings,
    Family,
    HistGradientBoostingParams,
    LinearParams,
    RandomForestParams,
    RecentDataSettings,
    RegistrySettings,
    TrainSettings,
)
from core.settings.runtime import (
    DriftSettings,
    LocalSettings,
    MlflowSettings,
    MonitoringSettings,
    PredlogSettings,
    ServeSettings,
)

__all__ = [
    "RUN_DIR",
    "DataSettings",
    "DriftSettings",
    "Family",
    "HistGradientBoostingParams",
    "LinearParams",
    "LocalSettings",
    "MlflowSettings",
    "MonitoringSettings",
    "PredlogSettings",
    "RandomForestParams",
    "RecentDataSettings",
    "RegistrySettings",
    "Section",
    "ServeSettings",
    "Settings",
    "TrainSettings",
    "child_environment",
    "default_environment",
    "load_settings",
    "mlflow_credentials",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALHOUSING_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data: DataSettings = DataSettings()
    train: TrainSettings = TrainSettings()
    registry: RegistrySettings = RegistrySettings()
    mlflow: MlflowSettings = MlflowSettings()
    serve: ServeSettings = ServeSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    predlog: PredlogSettings = PredlogSettings()
    drift: DriftSettings = DriftSettings()
    local: LocalSettings = LocalSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # params.yaml arrives as init arguments; the environment must win over it.
        return (env_settings, init_settings)

    @model_validator(mode="before")
    @classmethod
    def _under_run_dir(cls, data: Any) -> Any:
        """Paths left unset follow `local.run_dir` when it moves from RUN_DIR."""
        local = data.get("local") if isinstance(data, dict) else None
        run_dir = _field(local, "run_dir")
        if run_dir is None or Path(run_dir) == RUN_DIR:
            return data
        root = Path(run_dir)
        derived = {
            ("mlflow", "backend_store_uri"): f"sqlite:///{root}/mlflow/mlflow.db",
            ("mlflow", "artifacts_destination"): str(root / "mlflow" / "artifacts"),
            ("serve", "workdir"): root / "mlserver",
            ("predlog", "url"): f"sqlite:///{root}/predictions.db",
            ("drift", "report_dir"): root / "drift",
        }
        data = dict(data)
        for (section, name), value in derived.items():
            data[section] = _with_default(data.get(section), name, value)
        return data

    @model_validator(mode="after")
    def _ports_differ(self) -> "Settings":
        ports = (self.serve.http_port, self.serve.grpc_port, self.serve.metrics_port)
        if len(set(ports)) != len(ports):
            raise ValueError(f"serve ports must differ, got {ports}")
        return self

    @property
    def serve_model_uri(self) -> str:
        return self.serve.model_uri or self.registry.model_uri


def _is_set(section: Any, name: str) -> bool:
    """Whether a section, given as a dict (params.yaml, the environment) or a model, sets it."""
    if isinstance(section, BaseModel):
        return name in section.model_fields_set
    return isinstance(section, dict) and name in section


def _field(section: Any, name: str) -> Any:
    if not _is_set(section, name):
        return None
    return getattr(section, name) if isinstance(section, BaseModel) else section[name]


def _with_default(section: Any, name: str, value: Any) -> Any:
    if _is_set(section, name):
        return section
    if isinstance(section, BaseModel):
        return section.model_copy(update={name: value})
    return {**(section or {}), name: value}


def load_settings(params_path: Path | None = Path("params.yaml")) -> Settings:
    """Read params.yaml (a missing default file means code defaults) under the environment."""
    values: dict[str, Any] = {}
    if params_path is not None and params_path.exists():
        values = yaml.safe_load(params_path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{params_path}: expected a mapping at the top level")
    return Settings(**values)


def default_environment(values: Mapping[str, str]) -> None:
    """Set, for this process, variables that a library reads only from the environment
    (MLflow's HTTP client), unless the user set them. Here because this module alone touches
    the environment."""
    for key, value in values.items():
        os.environ.setdefault(key, value)


def mlflow_credentials() -> tuple[str, str]:
    """(user, password) from MLflow's own variables, MLFLOW_TRACKING_USERNAME and _PASSWORD
    (what the chart sets for MLflow's client), for our calls to the same server; empty when
    unset. Read when asked, so nothing holds a password longer than a request."""
    return os.environ.get("MLFLOW_TRACKING_USERNAME", ""), os.environ.get(
        "MLFLOW_TRACKING_PASSWORD", ""
    )


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child process of ours: this one's, with `extra` on top (settings
    the child reads through its own Settings). Here because this module alone reads it."""
    return {**os.environ, **extra}
