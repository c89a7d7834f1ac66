"""A server's start to ready: what serving imports before it is ready, the start's own log of
where the time went, and the registry client that replaced httpx on the load.

The import checks run in a fresh interpreter: this test process has imported everything."""

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.errors import CalhousingError
from inference.loaded import process_age_s
from inference.tracking_http import Run, Tracking, TrackingUnavailableError
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
OFF_THE_START_PATH = (
    "mlflow", "sklearn", "skops", "scipy", "sqlalchemy", "psycopg", "dvc", "kubernetes",
    "httpx", "training", "monitoring",
)  # fmt: skip
"""Each costs a start 0.3 s (sqlalchemy) to ~5 s (mlflow) and serving needs none before ready:
the prediction log's writer imports SQLAlchemy in its own thread; mlflow and scikit-learn only
load a version without a forest file. (pandas stays: MLServer imports it itself.)"""

# The real `calhousing serve` command (the CLI, the settings, the server's module) with the
# server itself, which would run until stopped, replaced by nothing.
SERVE_COMMAND = """
import inference.server
inference.server.serve = lambda settings: None
from calhousing.cli import app
app(["--params", "no-such-params.yaml", "serve"], standalone_mode=False)
"""
REPORT = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"


def _imported(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running `code`."""
    argv = [sys.executable, "-c", code + REPORT]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import inference.runtime", id="the runtime, as MLServer imports it"),
        pytest.param("import inference.server", id="the server module"),
        pytest.param(SERVE_COMMAND, id="calhousing serve"),
    ],
)
def test_serving_imports_nothing_it_does_not_need_before_ready(code: str) -> None:
    assert _imported(code) & set(OFF_THE_START_PATH) == set()


def test_the_start_log_knows_how_old_the_process_is() -> None:
    code = "import time; time.sleep(0.3); import inference.loaded as l; print(l.process_age_s())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    # Clock ticks are 10 ms; the interpreter's own start comes on top of the sleep.
    assert 0.29 <= float(done.stdout) < 60
    age = process_age_s()
    assert age is not None and age > 0


class _Registry(BaseHTTPRequestHandler):
    """Answers by path: /status/<code> with that status and MLflow's error body, /echo with the
    request's path, query and Authorization header; anything else 404."""

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/status/"):
            self._answer(int(path.rsplit("/", 1)[1]), {"message": "said so"})
        elif path.startswith("/echo"):
            self._answer(200, {"path": path, "query": query, "auth": self.headers["Authorization"]})
        else:
            self._answer(404, {"message": "no such thing"})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        content = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests say what went wrong."""


@contextmanager
def _registry() -> Iterator[Tracking]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Tracking(f"http://127.0.0.1:{server.server_port}/", timeout_s=5)
    finally:
        server.shutdown()
        server.server_close()


def test_the_registry_client_sends_the_query_and_mlflows_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    with _registry() as tracking:
        answer = tracking._get("/echo", {"name": "calhousing", "alias": "prod uction"})
    assert answer is not None
    assert answer.json() == {
        "path": "/echo",
        "query": "name=calhousing&alias=prod+uction",
        "auth": "Basic YWRtaW46czNjcmV0",  # base64 of admin:s3cret
    }


def test_the_registry_client_tells_missing_from_failing_from_refused() -> None:
    with _registry() as tracking:
        assert tracking._get("/nothing", {}) is None
        for status in (500, 503, 429):
            with pytest.raises(TrackingUnavailableError, match=f"{status} said so"):
                tracking._get(f"/status/{status}", {})
        with pytest.raises(CalhousingError, match="refused /status/400: 400 said so") as refused:
            tracking._get("/status/400", {})
        assert not isinstance(refused.value, TrackingUnavailableError)
        assert tracking.download(Run("s3://bucket/run", {}), "forest.npz", REPO) is None


@pytest.mark.parametrize("uri", ["http://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_a_registry_that_does_not_answer_is_unavailable_not_refused(uri: str) -> None:
    tracking = Tracking(uri.format(port=free_port()), timeout_s=2)
    with pytest.raises(TrackingUnavailableError, match="unreachable"):
        tracking.version("calhousing", "production", None)
