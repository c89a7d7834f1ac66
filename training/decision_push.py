"""What a training run tells Prometheus: its promotion decision, pushed to the Pushgateway.

Called at the edge (the `register` and `pipeline` commands) with the decision `register`
returned; pushing is best effort and off without `monitoring.pushgateway_url`.
"""

import time

from core.settings import Settings
from core.telemetry import DECISION, HOLDOUT_RMSE, TRAINING_JOB, Sample, push
from training.records import Decision


def rmse_samples(decision: Decision) -> list[Sample]:
    """Holdout RMSE of the challenger and of whichever version holds the alias now."""
    challenger = decision.version, decision.challenger_holdout_rmse
    production = challenger
    if decision.decision != "promoted":
        production = decision.champion_version or "", decision.champion_holdout_rmse or 0.0
    roles = {"challenger": challenger} | ({"production": production} if production[0] else {})
    return [
        Sample(HOLDOUT_RMSE, rmse, {"version": version, "role": role})
        for role, (version, rmse) in roles.items()
    ]


def decision_sample(decision: Decision, trigger: str, now: float) -> Sample:
    return Sample(DECISION, now, {"version": decision.version, "trigger": trigger})


def push_decision(settings: Settings, decision: Decision) -> None:
    """Push the decision: RMSE in the job's group, the decision in its outcome's group (so the
    last time of every outcome survives the next run's push)."""
    if settings.monitoring.pushgateway_url is None:
        return
    group = {"model": decision.model_name}
    push(settings.monitoring, TRAINING_JOB, group, rmse_samples(decision))
    sample = decision_sample(decision, settings.monitoring.trigger, time.time())
    push(settings.monitoring, TRAINING_JOB, group | {"outcome": decision.decision}, [sample])
