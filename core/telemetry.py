"""Telemetry shared by the components: batch metrics pushed to a Pushgateway, JSON log lines.

Batch jobs (training, drift checks) exit before Prometheus would scrape them, so they push to a
Prometheus Pushgateway, which keeps the last push of each group (`job` plus a grouping key)
until the next one. Every batch metric name is defined here, once: the jobs push them, and the
alert rules and dashboards in the Helm chart query exactly these names.

Pushing is best effort: without `monitoring.pushgateway_url` nothing is pushed, and a push that
fails is logged, never raised, because a metric must not fail the training it describes.
"""

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.error import URLError

import orjson
from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

from core.settings import MonitoringSettings

logger = logging.getLogger(__name__)

TRAINING_JOB: Final = "calhousing-training"
DRIFT_JOB: Final = "calhousing-drift"

# Every batch job, grouping key {job, model}:
LAST_SUCCESS: Final = "calhousing_job_last_success_timestamp_seconds"
LAST_FAILURE: Final = "calhousing_job_last_failure_timestamp_seconds"
DURATION: Final = "calhousing_job_duration_seconds"
# Training, grouping key {job, model}; labels version, role (`production` is the model holding
# the alias after this run, `challenger` the one this run registered):
HOLDOUT_RMSE: Final = "calhousing_training_holdout_rmse"
# Training, grouping key {job, model, outcome}: one group per outcome, so each outcome keeps
# its last time (a push replaces its whole group); labels version, trigger.
DECISION: Final = "calhousing_training_decision_timestamp_seconds"
# Drift check (issue 5 pushes these), grouping key {job, model}; labels version, feature:
DRIFT_SCORE: Final = "calhousing_drift_score"
DRIFT_THRESHOLD: Final = "calhousing_drift_threshold"
# Drift check, grouping key {job, model}; label reason: when it last started a retrain Job.
RETRAIN_TRIGGER: Final = "calhousing_retrain_trigger_timestamp_seconds"

HELP: Final[Mapping[str, str]] = {
    LAST_SUCCESS: "Unix time the batch job last finished successfully.",
    LAST_FAILURE: "Unix time the batch job last failed.",
    DURATION: "Wall time of the batch job's last successful run, seconds.",
    HOLDOUT_RMSE: "Holdout RMSE ($100k) of a model version, by role after the training run.",
    DECISION: "Unix time of the last promotion decision with this outcome.",
    DRIFT_SCORE: "Population stability index of a feature's live inputs vs the reference.",
    DRIFT_THRESHOLD: "Drift score above which a feature counts as drifted.",
    RETRAIN_TRIGGER: "Unix time the drift check last started a retrain, by reason.",
}


@dataclass(frozen=True)
class Sample:
    """One value of one gauge to push."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


def registry_of(samples: Sequence[Sample]) -> CollectorRegistry:
    """A fresh registry holding `samples` as gauges (one gauge per name)."""
    registry = CollectorRegistry()
    gauges: dict[str, Gauge] = {}
    for sample in samples:
        if sample.name not in gauges:
            labels = sorted(sample.labels)
            gauges[sample.name] = Gauge(sample.name, HELP[sample.name], labels, registry=registry)
        gauge = gauges[sample.name]
        (gauge.labels(**sample.labels) if sample.labels else gauge).set(sample.value)
    return registry


def push(
    settings: MonitoringSettings,
    job: str,
    grouping: Mapping[str, str],
    samples: Sequence[Sample],
) -> bool:
    """Push `samples` into the group {job, **grouping}, replacing only the metrics they name.
    False when pushing is off or failed (logged)."""
    if settings.pushgateway_url is None:
        return False
    try:
        pushadd_to_gateway(
            settings.pushgateway_url,
            job=job,
            registry=registry_of(samples),
            grouping_key=dict(grouping),
            timeout=settings.push_timeout_s,
        )
    except (OSError, URLError) as err:  # HTTPError is a URLError; refused or timed out: OSError
        logger.warning("push of %s metrics to %s failed: %s", job, settings.pushgateway_url, err)
        return False
    return True


@contextmanager
def batch_job(settings: MonitoringSettings, job: str, model: str) -> Iterator[None]:
    """Push the block's outcome: last success time and duration, or last failure time (then
    re-raise). Earlier pushes of the other metrics stay, so a failure keeps the last success."""
    grouping = {"model": model}
    start = time.time()
    try:
        yield
    except Exception:
        push(settings, job, grouping, [Sample(LAST_FAILURE, time.time())])
        raise
    end = time.time()
    push(settings, job, grouping, [Sample(LAST_SUCCESS, end), Sample(DURATION, end - start)])


def drift_samples(version: str, scores: Mapping[str, float], threshold: float) -> list[Sample]:
    """What a drift check pushes (grouping {job: DRIFT_JOB, model}): a score per feature."""
    return [
        *(Sample(DRIFT_SCORE, s, {"version": version, "feature": f}) for f, s in scores.items()),
        Sample(DRIFT_THRESHOLD, threshold),
    ]


# Fields every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_FIELDS: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `extra` fields
    (e.g. request_id, model, version), so log shippers need no parsing rules. orjson (MLServer
    encodes its answers with it too): the serving request line is written once per request,
    and the standard library's encoder was a third of the line's cost."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def json_logging(loggers: Sequence[str]) -> dict[str, Any]:
    """A `logging.config.dictConfig` that writes `loggers` as JSON lines to stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.{JsonFormatter.__qualname__}"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            name: {"handlers": ["stdout"], "level": "INFO", "propagate": False} for name in loggers
        },
    }
