"""Serving's calls to the tracking server give up after serve.mlflow_timeout_s: a tracking server
that accepts and never answers costs a load that long, not MLflow's 120 s."""

import socket
import time
from collections.abc import Iterator

import pytest

from core.settings import MlflowSettings, ServeSettings, Settings
from inference.runtime_config import RuntimeConfig
from inference.tracking_http import TrackingUnavailableError


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Listens, accepts (the kernel's backlog does), and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_the_runtime_asks_the_tracking_server_with_the_serving_timeout(silent_server: str) -> None:
    settings = Settings(
        mlflow=MlflowSettings(tracking_uri=silent_server), serve=ServeSettings(mlflow_timeout_s=0.5)
    )
    tracking = RuntimeConfig.from_settings(settings).tracking()
    assert tracking.timeout_s == 0.5

    start = time.monotonic()
    with pytest.raises(TrackingUnavailableError, match="unreachable"):
        tracking.version("calhousing", "production", None)
    assert time.monotonic() - start < 3
