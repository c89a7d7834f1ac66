"""What the runtime needs from our settings, as one typed object across the MLServer boundary.

MLServer hands a runtime only its ModelSettings, whose `parameters.extra` is an untyped dict
(and is written to `model-settings.json` for the repository API's reloads). `server.build`
puts a RuntimeConfig there; the runtime validates it back. Every field is required, so no
default is declared twice: they all come from core.settings.
"""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.settings import PredlogSettings, Settings
from inference.tracking_http import Tracking


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tracking_uri: str
    mlflow_timeout_s: float
    """Each call to the tracking server gives up after this (serve.mlflow_timeout_s)."""
    max_batch_rows: int
    scratch_dir: Path
    """Where model files are downloaded while loading (removed once in memory)."""
    predict_threads: int
    compiled_trees: bool
    model_wait_s: float
    model_wait_interval_s: float
    follow_alias_s: float
    predlog: PredlogSettings

    @classmethod
    def from_settings(cls, settings: Settings) -> "RuntimeConfig":
        serve = settings.serve
        return cls(
            tracking_uri=settings.mlflow.tracking_uri,
            mlflow_timeout_s=serve.mlflow_timeout_s,
            max_batch_rows=serve.max_batch_rows,
            scratch_dir=serve.workdir / "models",
            predict_threads=serve.predict_threads,
            compiled_trees=serve.compiled_trees,
            model_wait_s=serve.model_wait_s,
            model_wait_interval_s=serve.model_wait_interval_s,
            follow_alias_s=serve.follow_alias_s,
            predlog=settings.predlog,
        )

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None) -> "RuntimeConfig":
        """Read back from `parameters.extra`; a missing or wrong field fails the load by name."""
        return cls.model_validate(extra or {})

    def tracking(self) -> Tracking:
        return Tracking(self.tracking_uri, self.mlflow_timeout_s)

    def to_extra(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
