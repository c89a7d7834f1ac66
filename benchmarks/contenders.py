"""The servers under test, all serving one registered model version from the same file.

- `ours`: `calhousing serve` (our runtime on MLServer), REST and gRPC, prediction log on;
- `stock`: MLServer's own `mlserver_mlflow.MLflowRuntime` on the same MLflow model folder
  (one input per column, pandas codec), in-process like ours (`parallel_workers: 0`);
- `floor`: MLServer with benchmarks/floor.py, a constant answer and no model: the framework's
  own cost, started as stock is;
- `kserve`: KServe's Python model server (the maintained V2 peer) on the joblib dump, through
  benchmarks/kserve_env/serve.py, in its own environment (benchmarks/toolchain.py);
- `fastapi`: benchmarks/baseline.py, the same estimator through joblib.

Each starts as its own process, pinned to the server CPUs, and is timed from spawn to ready.
"""

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import joblib

from benchmarks import toolchain
from core.features import FEATURE_NAMES, TARGET
from core.settings import Settings, child_environment

READY_TIMEOUT_S = 180.0
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class ModelFiles:
    """One registered version, materialised for every contender."""

    name: str
    version: str
    uri: str
    mlflow_dir: Path
    joblib_path: Path


def materialise(settings: Settings, version: str, folder: Path) -> ModelFiles:
    """Download `version` once; the stock runtime reads the MLflow folder, the baseline a
    joblib dump of the estimator MLflow loads from it (our runtime downloads it itself)."""
    import mlflow.artifacts
    import mlflow.sklearn
    from mlflow import MlflowClient

    name, tracking = settings.registry.model_name, settings.mlflow.tracking_uri
    client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
    source = client.get_model_version_download_uri(name, version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=str(folder / "mlflow"), tracking_uri=tracking
    )
    estimator = mlflow.sklearn.load_model(local)
    joblib_path = folder / "model.joblib"
    joblib.dump(estimator, joblib_path)
    return ModelFiles(name, version, f"models:/{name}/{version}", Path(local), joblib_path)


@dataclass
class Server:
    """A contender's process: how to start it, where it answers, how long it took."""

    name: str
    argv: list[str]
    ready_url: str
    infer_url: str
    env: dict[str, str] = field(default_factory=dict)
    grpc_target: str | None = None
    """host:port of gRPC, and the model name it serves, for those that speak it."""
    model: str = ""
    proc: subprocess.Popen[bytes] | None = None
    ready_s: float = float("nan")


def ours(model: ModelFiles, settings: Settings, work: Path) -> Server:
    http, grpc_port, metrics = free_port(), free_port(), free_port()
    env = {
        "CALHOUSING_SERVE__HTTP_PORT": str(http),
        "CALHOUSING_SERVE__GRPC_PORT": str(grpc_port),
        "CALHOUSING_SERVE__METRICS_PORT": str(metrics),
        "CALHOUSING_SERVE__MODEL_URI": model.uri,
        "CALHOUSING_SERVE__WORKDIR": str(work / "ours"),
        "CALHOUSING_MLFLOW__TRACKING_URI": settings.mlflow.tracking_uri,
        # The log is part of serving: the figures include its cost (on a scratch store).
        "CALHOUSING_PREDLOG__URL": f"sqlite:///{work / 'predictions.db'}",
    }
    base = f"http://127.0.0.1:{http}/v2/models/{model.name}"
    return Server(
        "ours",
        [sys.executable, "-m", "calhousing", "serve"],
        f"{base}/ready",
        f"{base}/infer",
        env,
        grpc_target=f"127.0.0.1:{grpc_port}",
        model=model.name,
    )


def _mlserver(
    name: str, model: str, implementation: str, parameters: dict[str, str], work: Path
) -> Server:
    """`mlserver start` on a folder holding the server's and one model's settings."""
    folder, http, grpc_port = work / name, free_port(), free_port()
    (folder / model).mkdir(parents=True, exist_ok=True)
    server = {
        "http_port": http,
        "grpc_port": grpc_port,
        "metrics_port": free_port(),
        "parallel_workers": 0,
        "metrics_dir": str(folder / "metrics"),
    }
    settings = {"name": model, "implementation": implementation, "parameters": parameters}
    (folder / "settings.json").write_text(json.dumps(server))
    (folder / model / "model-settings.json").write_text(json.dumps(settings))
    mlserver = str(Path(sys.executable).with_name("mlserver"))
    base = f"http://127.0.0.1:{http}/v2/models/{model}"
    # The floor's runtime is imported from this checkout, which is not an installed package.
    env = {"PYTHONPATH": str(REPO)}
    argv = [mlserver, "start", str(folder)]
    return Server(
        name, argv, f"{base}/ready", f"{base}/infer", env, f"127.0.0.1:{grpc_port}", model
    )


def stock(model: ModelFiles, work: Path) -> Server:
    uri = {"uri": str(model.mlflow_dir)}
    return _mlserver("stock", model.name, "mlserver_mlflow.MLflowRuntime", uri, work)


def floor(model: ModelFiles, work: Path) -> Server:
    return _mlserver("floor", model.name, "benchmarks.floor.Floor", {}, work)


def kserve(model: ModelFiles, python: Path) -> Server:
    http, grpc_port = free_port(), free_port()
    features = ",".join(FEATURE_NAMES)
    argv = [str(python), str(toolchain.KSERVE_SERVER), str(model.joblib_path), model.name]
    argv += [str(http), str(grpc_port), features, TARGET.name]
    base = f"http://127.0.0.1:{http}/v2/models/{model.name}"
    # The pipeline's first step is this project's (training.features, core.geography): the
    # unpickled model needs it importable, as it does wherever the model is used.
    env = {"PYTHONPATH": str(REPO)}
    return Server(
        "kserve", argv, f"{base}/ready", f"{base}/infer", env, f"127.0.0.1:{grpc_port}", model.name
    )


def fastapi(model: ModelFiles) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.baseline", str(model.joblib_path), str(port)]
    base = f"http://127.0.0.1:{port}"
    return Server("fastapi", argv, f"{base}/health", f"{base}/predict")


@contextmanager
def started(servers: list[Server], cpus: str | None, logs: Path) -> Iterator[list[Server]]:
    """Start each server in turn (timing spawn to ready), stop them all at the end."""
    try:
        for server in servers:
            _start(server, cpus, logs / f"{server.name}.log")
        yield servers
    finally:
        for server in servers:
            _stop(server)


def start_times(
    servers: list[Server], cpus: str | None, logs: Path, rounds: int
) -> dict[str, float]:
    """Median spawn-to-ready of each server over `rounds` starts and stops, the order rotating
    each round: the first to start after the model download met a cold file cache, which
    weighed on our ratio to the floor in a single start."""
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    for turn in range(rounds if servers else 0):
        shift = turn % len(servers)
        for server in servers[shift:] + servers[:shift]:
            _start(server, cpus, logs / f"{server.name}-start-{turn}.log")
            _stop(server)
            times[server.name].append(server.ready_s)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def _start(server: Server, cpus: str | None, log: Path) -> None:
    argv = ["taskset", "-c", cpus, *server.argv] if cpus else server.argv
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("wb") as out:
        server.proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=child_environment(server.env)
        )
    deadline = start + READY_TIMEOUT_S
    while time.perf_counter() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited early; see {log}")
        try:
            if httpx.get(server.ready_url, timeout=2).status_code == 200:
                server.ready_s = time.perf_counter() - start
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} not ready after {READY_TIMEOUT_S} s; see {log}")


def _stop(server: Server) -> None:
    if server.proc is None or server.proc.poll() is not None:
        return
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
