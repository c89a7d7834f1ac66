"""`calhousing demo`: call the running server the four ways users do (REST and gRPC, column and
tensor layouts), show one refused request, and say where to look next.

The facts come from the live system, not from files: the version that answered, and the
promotion decision recorded on that version in the registry.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core import registry
from core.errors import CalhousingError
from core.features import FEATURE_NAMES, TARGET
from core.registry import VersionTag
from core.settings import Settings
from inference.client import GrpcClient, InferenceClientError, Prediction, RestClient

SAMPLE_ROWS = 3


@dataclass(frozen=True)
class Observed:
    rows: pd.DataFrame
    answers: dict[str, Prediction]
    refusals: dict[str, str]
    tags: dict[str, str]


def holdout_sample(settings: Settings) -> pd.DataFrame:
    path = settings.data.prepared_dir / "holdout.parquet"
    if not path.exists():
        raise CalhousingError(f"{path} is missing: run the pipeline first (`dvc repro`)")
    return pd.read_parquet(path).sample(SAMPLE_ROWS, random_state=7)


def call_all(rest: RestClient, grpc: GrpcClient, rows: np.ndarray) -> dict[str, Prediction]:
    return {
        "REST columns": rest.infer(rows, "columns"),
        "REST tensor": rest.infer(rows, "tensor"),
        "gRPC columns": grpc.infer(rows, "columns"),
        "gRPC tensor": grpc.infer(rows, "tensor"),
    }


def refusals(rest: RestClient, grpc: GrpcClient, rows: np.ndarray) -> dict[str, str]:
    """One impossible value (negative income) over both protocols: the answer names it."""
    bad = rows[:1].copy()
    bad[0, 0] = -1.0
    refused = {}
    for name, client in (("REST", rest), ("gRPC", grpc)):
        try:
            client.infer(bad, "columns")
        except InferenceClientError as err:
            refused[name] = str(err)
        else:
            raise CalhousingError(f"{name} accepted MedInc = -1; the server must refuse it")
    return refused


def version_tags(settings: Settings, version: str) -> dict[str, str]:
    client = registry.connect(settings.mlflow.tracking_uri)
    return registry.version_tags(client, settings.registry.model_name, version)


def observe(settings: Settings) -> Observed:
    serve, name = settings.serve, settings.registry.model_name
    rows = holdout_sample(settings)
    matrix = rows[list(FEATURE_NAMES)].to_numpy(np.float64)
    with (
        RestClient(f"http://{serve.host}:{serve.http_port}", name) as rest,
        GrpcClient(f"{serve.host}:{serve.grpc_port}", name) as grpc,
    ):
        answers = call_all(rest, grpc, matrix)
        refused = refusals(rest, grpc, matrix)
    versions = {p.model_version for p in answers.values()}
    if len(versions) != 1:
        raise CalhousingError(f"the four paths were answered by different versions: {versions}")
    return Observed(rows, answers, refused, version_tags(settings, versions.pop()))


def report(settings: Settings, seen: Observed) -> str:
    """The summary a person reads: pure formatting of what was observed."""
    version = next(iter(seen.answers.values())).model_version
    name, tags = settings.registry.model_name, seen.tags
    table = seen.rows[list(FEATURE_NAMES[:3])].round(2).copy()
    table["actual"] = seen.rows[TARGET.name].round(3)
    for path, answer in seen.answers.items():
        table[path] = answer.values.round(3)
    lines = [
        f"Model {name!r} version {version} answered all {len(seen.answers)} paths "
        f"(@{settings.registry.alias} resolves to it).",
        f"  promotion: {tags.get(VersionTag.DECISION, '?')}: {tags.get(VersionTag.REASON, '?')}",
        f"  holdout RMSE: {tags.get(VersionTag.CHALLENGER_RMSE, '?')} ($100k)"
        f"  data version: {tags.get(VersionTag.DATA_VERSION, '?')}",
        "",
        f"Predictions for {len(table)} holdout block groups, median house value in $100k:",
        table.to_string(index=False),
        "",
        "A negative income is refused before the model sees it:",
        *(f"  {protocol}: {message}" for protocol, message in seen.refusals.items()),
    ]
    return "\n".join([*lines, "", *where_next(settings)])


def where_next(settings: Settings) -> list[str]:
    serve, mlflow, name = settings.serve, settings.mlflow, settings.registry.model_name
    http = f"http://{serve.host}:{serve.http_port}"
    return [
        "Where to look next:",
        f"  MLflow UI      http://{mlflow.host}:{mlflow.port}/#/models/{name}",
        f"  V2 REST        {http}/v2/models/{name}/infer   (ready: {http}/v2/models/{name}/ready)",
        f"  V2 gRPC        {serve.host}:{serve.grpc_port}  (inference.GRPCInferenceService)",
        f"  Metrics        http://{serve.host}:{serve.metrics_port}/metrics",
        f"  Logs and pids  {settings.local.run_dir}/logs, {settings.local.run_dir}/pids"
        "   (`make stop` stops the services)",
    ]


def run(settings: Settings) -> str:
    return report(settings, observe(settings))
