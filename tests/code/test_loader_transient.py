"""A registry that fails only for now makes a model "not available yet" (a waiting predictor
keeps waiting); one that refuses stays an error. Both ways of loading (our REST calls for the
forest file, `compiled`; MLflow's real client otherwise), against a real HTTP server that
answers as an overloaded or a refusing MLflow would."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.errors import CalhousingError
from inference.loader import ModelUnavailableError, load
from inference.tracking_http import Tracking


def _registry(status: int, code: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            healthy = self.path.startswith("/health")
            body = b"OK" if healthy else json.dumps({"error_code": code, "message": code}).encode()
            self.send_response(200 if healthy else status)
            self.send_header("Content-Type", "text/plain" if healthy else "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def registry(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # MLflow's client retries a 5xx for minutes by default; the serving chart bounds it too.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _registry(*request.param))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("registry", [(500, "INTERNAL_ERROR"), (503, "TEMPORARILY_UNAVAILABLE")],
                         indirect=True)  # fmt: skip
@pytest.mark.parametrize("compiled", [True, False])
def test_a_registry_failing_for_now_means_the_model_is_not_available_yet(
    registry: str, tmp_path: Path, compiled: bool
) -> None:
    with pytest.raises(ModelUnavailableError, match="registry"):
        load("models:/calhousing@production", Tracking(registry), tmp_path, compiled=compiled)


@pytest.mark.parametrize("registry", [(403, "PERMISSION_DENIED")], indirect=True)
@pytest.mark.parametrize("compiled", [True, False])
def test_a_registry_that_refuses_stays_an_error(
    registry: str, tmp_path: Path, compiled: bool
) -> None:
    with pytest.raises(CalhousingError) as err:
        load("models:/calhousing@production", Tracking(registry), tmp_path, compiled=compiled)
    assert not isinstance(err.value, ModelUnavailableError)
