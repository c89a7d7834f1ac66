"""Register: the best candidate becomes a new model version; it takes the alias only if it
beats the current champion on the same holdout by a margin a paired bootstrap says is real,
and predicts a single row within the latency budget. Versions are never deleted: a rejected
challenger keeps its version, tagged with the reason."""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import CalhousingError
from core.profile import FloatArray
from core.registry import VersionTag, alias_version
from core.settings import RegistrySettings, Settings
from training.datasets import Split, load_split
from training.policy import Interval, Verdict, decide, gate, paired_bootstrap
from training.records import (
    DECISION_FILE,
    EVALUATION_FILE,
    Decision,
    Evaluation,
    read_record,
    write_record,
)
from training.scores import score
from training.tracking import connect


def champion_version(client: Any, registry: RegistrySettings) -> str | None:
    return alias_version(client, registry.model_name, registry.alias)


def served_version(settings: Settings) -> str | None:
    """The version the alias names now; None before the first promotion."""
    return champion_version(connect(settings.mlflow), settings.registry)


LATENCY_CALLS = 200


def holdout_predictions(model: Any, holdout: Split) -> FloatArray:
    return np.asarray(model.predict(holdout.x), dtype=np.float64)


def single_row_ms(model: Any, rows: FloatArray) -> float:
    """Median of one-row predicts with one thread, as the server runs them (after a warm-up).
    The median, not a high percentile: on a shared CI machine the tail measures the neighbours."""
    from threadpoolctl import threadpool_limits

    times = []
    with threadpool_limits(limits=1):
        model.predict(rows[:1])
        for i in range(LATENCY_CALLS):
            start = time.perf_counter()
            model.predict(rows[i % len(rows) : i % len(rows) + 1])
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


@dataclass(frozen=True)
class Evidence:
    champion_rmse: float | None
    interval: Interval | None
    latency_ms: float


def gather(settings: Settings, challenger_uri: str, champion: str | None) -> Evidence:
    """The numbers the promotion rule needs: the champion's holdout RMSE, the paired bootstrap
    interval of the gain, the challenger's single-row latency."""
    import mlflow

    registry, holdout = settings.registry, load_split(settings.data.prepared_dir, "holdout")
    challenger = mlflow.sklearn.load_model(challenger_uri)
    latency = single_row_ms(challenger, holdout.x)
    if champion is None:
        return Evidence(None, None, latency)
    champion_model = mlflow.sklearn.load_model(f"models:/{registry.model_name}/{champion}")
    champion_predicted = holdout_predictions(champion_model, holdout)
    champion_sq = (champion_predicted - holdout.y) ** 2
    challenger_sq = (holdout_predictions(challenger, holdout) - holdout.y) ** 2
    interval = paired_bootstrap(
        champion_sq, challenger_sq, registry.bootstrap_resamples, registry.confidence,
        settings.train.seed,
    )  # fmt: skip
    rmse = score(holdout.y, champion_predicted).rmse
    return Evidence(rmse, interval, latency)


def record_evidence(
    client: Any, decision: Decision, run_id: str, evidence: Evidence, settings: Settings
) -> None:
    """Thresholds and numbers on the challenger's run (metrics, tags) and version (tags), with
    what triggered the retrain when the drift check did."""
    registry = settings.registry
    metrics = {
        "promotion.promoted": float(decision.decision == "promoted"),
        "promotion.latency_ms": evidence.latency_ms,
    }
    if evidence.interval is not None:
        metrics |= {
            "promotion.rmse_gain": evidence.interval.gain,
            "promotion.rmse_gain_low": evidence.interval.low,
            "promotion.rmse_gain_high": evidence.interval.high,
        }
    for name, value in metrics.items():
        client.log_metric(run_id, name, value)
    tags = {
        "promotion.decision": decision.decision,
        "promotion.reason": decision.reason,
        "promotion.version": decision.version,
        "promotion.confidence": str(registry.confidence),
        "promotion.min_improvement": str(registry.min_improvement),
        "promotion.latency_budget_ms": str(registry.latency_budget_ms),
        **settings.drift.retrain_tags,
    }
    for key, text in tags.items():
        client.set_tag(run_id, key, text)
    for key, text in settings.drift.retrain_tags.items():
        client.set_model_version_tag(decision.model_name, decision.version, key, text)


def _version(version: str | None) -> str:
    return "no version" if version is None else f"v{version}"


def ensure_alias_unmoved(client: Any, registry: RegistrySettings, expected: str | None) -> None:
    """The registry has no compare-and-set on aliases: re-read it just before moving it."""
    now = champion_version(client, registry)
    if now != expected:
        raise CalhousingError(
            f"@{registry.alias} of {registry.model_name} moved from {_version(expected)} to "
            f"{_version(now)} "
            "while this challenger was evaluated; run register again to face the new champion"
        )


def promote(client: Any, registry: RegistrySettings, decision: Decision) -> None:
    """Move the alias to the new version, unless another promotion moved it meanwhile."""
    try:
        ensure_alias_unmoved(client, registry, decision.champion_version)
    except CalhousingError as err:
        record_decision(
            client, decision.model_copy(update={"decision": "aborted", "reason": str(err)})
        )
        raise
    client.set_registered_model_alias(registry.model_name, registry.alias, decision.version)


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.6f}"


def record_decision(client: Any, decision: Decision) -> None:
    tags = {
        VersionTag.DECISION: decision.decision,
        VersionTag.REASON: decision.reason,
        VersionTag.CHALLENGER_RMSE: _number(decision.challenger_holdout_rmse),
        VersionTag.CHAMPION_RMSE: _number(decision.champion_holdout_rmse),
        VersionTag.CHAMPION_VERSION: decision.champion_version or "none",
        VersionTag.DATA_VERSION: decision.data_version,
    }
    for key, value in tags.items():
        client.set_model_version_tag(decision.model_name, decision.version, key, value)


def _decision(
    evaluation: Evaluation,
    version: str,
    champion: tuple[str | None, float | None],
    verdict: Verdict,
    registry: RegistrySettings,
) -> Decision:
    return Decision(
        model_name=registry.model_name,
        version=version,
        family=evaluation.best,
        decision="promoted" if verdict.promote else "rejected",
        reason=verdict.reason,
        challenger_holdout_rmse=evaluation.winner.holdout.rmse,
        champion_version=champion[0],
        champion_holdout_rmse=champion[1],
        data_version=evaluation.data_version,
    )


def register(settings: Settings) -> Decision:
    """Register the evaluation's winner, promote it if it passes the gate, and record why (on
    the version, its run and in decision.json, DVC's output of this stage)."""
    import mlflow

    registry = settings.registry
    evaluation = read_record(Evaluation, settings.train.artifacts_dir / EVALUATION_FILE)
    client = connect(settings.mlflow)
    version = str(mlflow.register_model(evaluation.winner.model_uri, registry.model_name).version)
    champion = champion_version(client, registry)
    evidence = gather(settings, evaluation.winner.model_uri, champion)
    verdict = gate(
        decide(evaluation.winner.holdout.rmse, champion, evidence.champion_rmse),
        evidence.interval,
        evidence.latency_ms,
        registry,
    )
    decision = _decision(evaluation, version, (champion, evidence.champion_rmse), verdict, registry)
    if verdict.promote:
        promote(client, registry, decision)
    record_decision(client, decision)
    record_evidence(client, decision, evaluation.winner.run_id, evidence, settings)
    write_record(decision, settings.train.artifacts_dir / DECISION_FILE)
    return decision
