"""The benchmark's peers start as the suite starts them and answer V2 over REST and gRPC
(real processes: MLServer with the floor runtime, KServe in its own locked environment), and
the open-loop generator keeps the rate it is asked for and reports latencies."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest

from benchmarks import contenders, open_loop, toolchain
from benchmarks.contenders import ModelFiles, Server
from benchmarks.load_cell import write_bodies
from inference.client import GrpcClient, RestClient
from tests.integration.serving_fixtures import RegisteredModel

pytestmark = pytest.mark.integration
CACHE = toolchain.DEFAULT_CACHE
RATE, SECONDS = 200.0, 3.0


@pytest.fixture(scope="module")
def peers(
    registered_model: RegisteredModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    work = tmp_path_factory.mktemp("peers")
    joblib.dump(registered_model.estimator, work / "model.joblib")
    files = ModelFiles(
        registered_model.name, registered_model.version, "", work, work / "model.joblib"
    )
    servers = [
        contenders.floor(files, work),
        contenders.kserve(files, toolchain.kserve_python(CACHE)),
    ]
    with contenders.started(servers, None, work / "logs") as running:
        yield {s.name: s for s in running}


def _base(server: Server) -> str:
    return server.infer_url.split("/v2/", 1)[0]


@pytest.mark.parametrize("name", ["floor", "kserve"])
def test_a_peer_answers_v2_rest_and_grpc_with_one_value_per_row(
    peers: dict[str, Server], registered_model: RegisteredModel, name: str
) -> None:
    server, rows = peers[name], registered_model.rows[:5]
    assert server.ready_s > 0
    assert server.grpc_target is not None
    with (
        RestClient(_base(server), server.model) as rest,
        GrpcClient(server.grpc_target, server.model) as grpc,
    ):
        answers = [rest.infer(rows).values, grpc.infer(rows).values]
    expected = registered_model.predict(rows) if name == "kserve" else np.zeros(len(rows))
    for values in answers:
        np.testing.assert_allclose(values, expected, rtol=1e-9)


def _open_loop(server: Server, protocol: str, tmp_path: Path, rows: np.ndarray) -> dict[str, float]:
    write_bodies(rows, [1], tmp_path)
    open_loop.write_grpc_body(server.model, rows, tmp_path)
    plan = open_loop.Plan(toolchain.openloop_binary(CACHE), tmp_path, SECONDS, None)
    done = subprocess.run(
        open_loop.argv(plan, server, protocol, RATE),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    summary: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return summary


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_the_open_loop_generator_keeps_its_rate_and_reports_latencies(
    peers: dict[str, Server], registered_model: RegisteredModel, protocol: str, tmp_path: Path
) -> None:
    summary = _open_loop(peers["floor"], protocol, tmp_path, registered_model.rows)

    assert summary["requests"] == RATE * SECONDS
    assert summary["errors"] == 0
    assert summary["sent_rps"] == pytest.approx(RATE, rel=0.05)
    assert summary["achieved_rps"] == pytest.approx(RATE, rel=0.15)
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["p999_ms"] <= summary["max_ms"]
