"""Promotion against a real MLflow server, through the training code path itself: a challenger
no better than the champion (by the paired bootstrap) is rejected and keeps its version with
the reason; a better one moves the alias once (the latency budget is unit-tested); an MLflow
outage during promotion leaves the alias where it was."""

from pathlib import Path
from typing import Any

import pytest

from core.errors import CalhousingError
from core.settings import Family, Settings
from tests.services import MlflowServer, mlflow_server
from training.evaluate import evaluate
from training.ingest import ingest
from training.prepare import prepare
from training.register import register
from training.train import train

pytestmark = pytest.mark.integration

MODEL = "calhousing-promotion-test"
FAST_HGB = {"max_iter": 60, "learning_rate": 0.1, "max_features": 1.0}


def _settings(root: Path, csv: Path, uri: str, family: Family, **registry: Any) -> Settings:
    return Settings(
        data={"source": str(csv), "raw_path": root / "raw.csv", "prepared_dir": root / "prepared",
              "recent": {"path": root / "recent.csv"}},
        train={"families": [family], "n_jobs": 1, "hist_gradient_boosting": FAST_HGB,
               "artifacts_dir": root / "artifacts"},
        registry={"model_name": MODEL, "bootstrap_resamples": 500, **registry},
        mlflow={"tracking_uri": uri, "experiment": "promotion-test"},
        drift={"retrain_tags": {"trigger": "drift", "trigger.window": "7"}},
    )  # fmt: skip


def _compete(settings: Settings) -> str:
    train(settings)
    evaluate(settings)
    return register(settings).summary(settings.registry.alias)


def _alias(uri: str) -> str:
    from mlflow import MlflowClient

    return str(MlflowClient(uri).get_registered_model(MODEL).aliases["production"])


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory, california_csv: Path) -> Path:
    root = tmp_path_factory.mktemp("promotion")
    settings = _settings(root, california_csv, "unused", "linear")
    ingest(settings)
    prepare(settings)
    return root


def test_only_a_significantly_better_challenger_moves_the_alias_once(
    mlflow: MlflowServer, data_root: Path, california_csv: Path
) -> None:
    from mlflow import MlflowClient

    def compete(family: Family, **registry: Any) -> str:
        return _compete(_settings(data_root, california_csv, mlflow.uri, family, **registry))

    first = compete("linear")
    assert "promoted" in first, first
    champion = _alias(mlflow.uri)
    same = compete("linear")  # the same model again: no gain at all
    assert "rejected: not better" in same and _alias(mlflow.uri) == champion
    better = compete("hist_gradient_boosting")
    assert "promoted" in better and _alias(mlflow.uri) != champion
    winner = _alias(mlflow.uri)
    assert "rejected" in compete("hist_gradient_boosting") and _alias(mlflow.uri) == winner
    client = MlflowClient(mlflow.uri)
    version = client.get_model_version(MODEL, winner)
    assert version.tags["trigger.window"] == "7"
    run = client.get_run(str(version.run_id)).data
    assert run.metrics["promotion.promoted"] == 1.0
    assert run.metrics["promotion.rmse_gain_low"] > 0
    assert run.tags["promotion.confidence"] == "0.95"
    rejected = client.get_model_version(MODEL, str(int(winner) + 1))
    assert rejected.tags["decision"] == "rejected"
    assert rejected.tags["decision.reason"].startswith("not better")


def test_an_mlflow_outage_during_promotion_leaves_the_alias(
    tmp_path: Path, data_root: Path, california_csv: Path
) -> None:
    with mlflow_server(tmp_path / "mlflow") as server:
        first = _compete(_settings(data_root, california_csv, server.uri, "linear"))
        assert "promoted" in first, first
        champion = _alias(server.uri)
        challenger = _settings(data_root, california_csv, server.uri, "linear")
        train(challenger)
        evaluate(challenger)
    with pytest.raises(CalhousingError, match="unreachable"):
        register(challenger)  # the server is down
    with mlflow_server(tmp_path / "mlflow") as restarted:
        assert _alias(restarted.uri) == champion


def _shifted(csv: Path) -> Any:
    """The drift demo's scenario: south of 34.5 incomes doubled and prices rose 25%."""
    import pandas as pd

    frame = pd.read_csv(csv).sample(1500, random_state=3)
    south = frame["Latitude"] < 34.5
    frame.loc[south, "MedInc"] *= 2.0
    frame.loc[south, "median_house_value"] = (frame.loc[south, "median_house_value"] * 1.25).clip(
        upper=10.0
    )
    return frame


def test_a_retrain_on_recent_labelled_rows_is_judged_on_them_and_guarded_by_the_reference(
    mlflow: MlflowServer, tmp_path: Path, california_csv: Path
) -> None:
    """The champion never saw the shifted population; the challenger trained on it beats the
    champion on the recent holdout by a real margin and stays within the tolerance on the
    reference holdout, so it is promoted, and the decision records both comparisons."""
    from mlflow import MlflowClient

    from training.ingest import write_raw
    from training.records import DECISION_FILE, Decision, read_record

    settings = _settings(tmp_path, california_csv, mlflow.uri, "hist_gradient_boosting")
    settings = settings.model_copy(update={"registry": settings.registry.model_copy(
        update={"model_name": f"{MODEL}-recent"})})  # fmt: skip
    ingest(settings)
    prepare(settings)  # no recent rows yet
    assert "promoted" in _compete(settings)
    write_raw(_shifted(california_csv), settings.data.recent.path, "labelled rows")
    prepare(settings)

    summary = _compete(settings)

    decision = read_record(Decision, settings.train.artifacts_dir / DECISION_FILE)
    assert decision.decision == "promoted", summary
    assert "recent holdout RMSE" in decision.reason and "reference holdout RMSE" in decision.reason
    assert 300 < decision.recent_holdout_rows < 600 and decision.recent_version
    assert decision.recent_challenger_rmse is not None and decision.recent_champion_rmse is not None
    assert decision.recent_challenger_rmse < decision.recent_champion_rmse
    tags = MlflowClient(mlflow.uri).get_model_version(f"{MODEL}-recent", decision.version).tags
    assert tags["data.recent_version"] == decision.recent_version
    assert int(tags["recent_holdout.rows"]) == decision.recent_holdout_rows
