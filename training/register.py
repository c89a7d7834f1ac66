"""Register: the best candidate becomes a new model version; it takes the alias only if it
beats the current champion on the same holdout by a margin a paired bootstrap says is real,
and predicts a single row within the latency budget. Versions are never deleted: a rejected
challenger keeps its version, tagged with the reason."""

from typing import Any

from core.errors import CalhousingError
from core.registry import VersionTag, alias_version
from core.settings import RegistrySettings, Settings
from training.evidence import Evidence, gather
from training.lock import promotion_lock
from training.policy import Verdict, decide, gate, within_tolerance
from training.records import (
    DECISION_FILE,
    EVALUATION_FILE,
    Decision,
    Evaluation,
    read_record,
    write_record,
)
from training.tracking import connect


def champion_version(client: Any, registry: RegistrySettings) -> str | None:
    return alias_version(client, registry.model_name, registry.alias)


def served_version(settings: Settings) -> str | None:
    """The version the alias names now; None before the first promotion."""
    return champion_version(connect(settings.mlflow), settings.registry)


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
    if (interval := evidence.judge.interval) is not None:
        metrics |= {
            "promotion.rmse_gain": interval.gain,
            "promotion.rmse_gain_low": interval.low,
            "promotion.rmse_gain_high": interval.high,
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
        "promotion.judged_on": evidence.judge.holdout,
        "promotion.reference_tolerance": str(registry.reference_tolerance),
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
    """Move the alias to the new version, unless another promotion moved it meanwhile (the
    lock makes the re-read and the move one step for every promoter)."""
    with promotion_lock(client, registry):
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
        VersionTag.RECENT_DATA_VERSION: decision.recent_version,
        VersionTag.RECENT_ROWS: str(decision.recent_holdout_rows),
        VersionTag.RECENT_CHALLENGER_RMSE: _number(decision.recent_challenger_rmse),
        VersionTag.RECENT_CHAMPION_RMSE: _number(decision.recent_champion_rmse),
    }
    for key, value in tags.items():
        client.set_model_version_tag(decision.model_name, decision.version, key, value)


def _decision(
    evaluation: Evaluation,
    version: str,
    champion: str | None,
    evidence: Evidence,
    *,
    verdict: Verdict,
    registry: RegistrySettings,
) -> Decision:
    recent = evidence.recent
    return Decision(
        model_name=registry.model_name,
        version=version,
        family=evaluation.best,
        decision="promoted" if verdict.promote else "rejected",
        reason=verdict.reason,
        challenger_holdout_rmse=evaluation.winner.holdout.rmse,
        champion_version=champion,
        champion_holdout_rmse=evidence.reference.champion_rmse,
        holdout_rows=evidence.reference.rows,
        recent_holdout_rows=recent.rows if recent else 0,
        recent_challenger_rmse=recent.challenger_rmse if recent else None,
        recent_champion_rmse=recent.champion_rmse if recent else None,
        data_version=evaluation.data_version,
        recent_version=evaluation.recent_version,
    )


def judge(
    evaluation: Evaluation, champion: str | None, evidence: Evidence, registry: RegistrySettings
) -> Verdict:
    """On the recent holdout when there is one (the population served now), guarded by the
    reference holdout's tolerance; else on the reference holdout."""
    on = evidence.judge
    verdict = gate(
        decide(on.challenger_rmse, champion, on.champion_rmse, on.holdout),
        on.interval,
        evidence.latency_ms,
        registry,
    )
    if evidence.recent is None:
        return verdict
    reference = evidence.reference
    return within_tolerance(
        verdict, reference.challenger_rmse, reference.champion_rmse, registry.reference_tolerance
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
    verdict = judge(evaluation, champion, evidence, registry)
    decision = _decision(
        evaluation, version, champion, evidence, verdict=verdict, registry=registry
    )
    if verdict.promote:
        promote(client, registry, decision)
    record_decision(client, decision)
    record_evidence(client, decision, evaluation.winner.run_id, evidence, settings)
    write_record(decision, settings.train.artifacts_dir / DECISION_FILE)
    return decision
