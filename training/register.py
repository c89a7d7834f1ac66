"""Register: the best candidate becomes a new model version; it takes the alias only if it
beats the current champion on the same holdout. Versions are never deleted: a rejected
challenger keeps its version, tagged with the reason."""

from typing import Any

import numpy as np

from calhousing.errors import CalhousingError
from calhousing.settings import RegistrySettings, Settings
from training.datasets import Split, load_split
from training.metrics import score
from training.policy import Verdict, decide
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
    aliases: dict[str, str] = client.get_registered_model(registry.model_name).aliases
    version = aliases.get(registry.alias)
    return None if version is None else str(version)


def holdout_rmse(model_uri: str, holdout: Split) -> float:
    import mlflow

    model = mlflow.sklearn.load_model(model_uri)
    return score(holdout.y, np.asarray(model.predict(holdout.x), dtype=np.float64)).rmse


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
        "decision": decision.decision,
        "decision.reason": decision.reason,
        "holdout_rmse.challenger": _number(decision.challenger_holdout_rmse),
        "holdout_rmse.champion": _number(decision.champion_holdout_rmse),
        "champion.version": decision.champion_version or "none",
        "data.version": decision.data_version,
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
        decision="promoted" if verdict.promote else "rejected",
        reason=verdict.reason,
        challenger_holdout_rmse=evaluation.winner.holdout.rmse,
        champion_version=champion[0],
        champion_holdout_rmse=champion[1],
        data_version=evaluation.data_version,
    )


def register(settings: Settings) -> str:
    import mlflow

    registry = settings.registry
    evaluation = read_record(Evaluation, settings.train.artifacts_dir / EVALUATION_FILE)
    holdout = load_split(settings.data.prepared_dir, "holdout")
    client = connect(settings.mlflow)
    version = str(mlflow.register_model(evaluation.winner.model_uri, registry.model_name).version)
    champion = champion_version(client, registry)
    champion_rmse = None
    if champion is not None:
        champion_rmse = holdout_rmse(f"models:/{registry.model_name}/{champion}", holdout)
    verdict = decide(
        evaluation.winner.holdout.rmse, champion, champion_rmse, registry.min_improvement
    )
    decision = _decision(evaluation, version, (champion, champion_rmse), verdict, registry)
    if verdict.promote:
        promote(client, registry, decision)
    record_decision(client, decision)
    write_record(decision, settings.train.artifacts_dir / DECISION_FILE)
    where = f" as @{registry.alias}" if verdict.promote else ""
    return (
        f"register: {registry.model_name} v{version} ({evaluation.best}) "
        f"{decision.decision}{where}: {decision.reason}"
    )
