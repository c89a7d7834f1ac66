"""The drift check, end to end: window -> quality gate -> drift -> report -> maybe retrain.

Exit codes (`calhousing drift`, the CronJob, `make drift-demo`):
  0  no drift (or too few rows in the window to judge);
  3  drift: a retrain was started, or is pending (K windows, cooldown, one already running);
  4  the data-quality gate failed: upstream data is broken, nothing is retrained;
  1  the check itself failed (store, registry unreachable...): an error message says why.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import Engine

from core.predstore import connect
from core.settings import Settings
from monitoring import quality, store
from monitoring.drift import ColumnDrift, compare
from monitoring.trigger import Launcher, RetrainRequest, should_retrain


class Outcome(IntEnum):
    NO_DRIFT = 0
    DRIFT = 3
    QUALITY_FAILED = 4


class Status(StrEnum):
    NO_DRIFT = "no_drift"
    DRIFT = "drift"
    QUALITY = "quality"
    INSUFFICIENT_ROWS = "insufficient_rows"


OUTCOMES = {Status.DRIFT: Outcome.DRIFT, Status.QUALITY: Outcome.QUALITY_FAILED}


@dataclass(frozen=True)
class RetrainAttempt:
    """What the check did about drift: started a retrain (`name`, by `launcher`), or not."""

    started: bool
    reason: str
    name: str = ""
    launcher: str = ""

    def describe(self) -> str:
        if not self.started:
            return f"not started: {self.reason}"
        return f"started {self.name} ({self.launcher}): {self.reason}"


@dataclass
class Report:
    window: int
    start: float
    end: float
    rows: int
    versions: dict[str, int]
    production_version: str
    status: Status = Status.NO_DRIFT
    quality_problems: list[str] = field(default_factory=list)
    columns: dict[str, ColumnDrift] = field(default_factory=dict)
    drifted_features: list[str] = field(default_factory=list)
    prediction_drifted: bool = False
    retrain: RetrainAttempt | None = None
    """None unless the window drifted."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def judge(window: store.Window, profile: Any, version: str, settings: Settings) -> Report:
    """The pure part: the window's quality and drift against the profile, as a report."""
    drift = settings.drift
    report = Report(window.number, window.start, window.end, len(window.inputs),
                    window.versions, version)  # fmt: skip
    if report.rows < drift.min_rows:
        report.status = Status.INSUFFICIENT_ROWS
        return report
    gate = quality.check(window.inputs, profile, drift)
    result = compare(
        profile, window.inputs, window.predictions, drift.psi_threshold, drift.ks_alpha
    )
    columns = [*result.features.values(), *([result.prediction] if result.prediction else [])]
    report.columns = {c.name: c for c in columns}
    report.drifted_features = result.drifted_features
    report.prediction_drifted = bool(result.prediction and result.prediction.drifted)
    report.quality_problems = gate.problems
    report.status = (
        Status.QUALITY if not gate.ok else (Status.DRIFT if result.drifted else Status.NO_DRIFT)
    )
    return report


def outcome(report: Report) -> Outcome:
    return OUTCOMES.get(report.status, Outcome.NO_DRIFT)


def maybe_retrain(
    engine: Engine, report: Report, launcher: Launcher, now: float, settings: Settings
) -> RetrainAttempt:
    """Start a retrain if drift persisted and the cooldown passed."""
    window = report.window
    drifted = store.drifted_windows(
        engine, range(window - settings.drift.consecutive + 1, window + 1)
    )
    last = store.last_retrain(engine)
    if last is not None and last.window == window:
        return RetrainAttempt(False, f"already started for this window: {last.name}")
    last_at = last.started_at if last else None
    verdict = should_retrain(window, drifted, last_at, now, settings.drift)
    if not verdict.start:
        return RetrainAttempt(False, verdict.reason)
    running = launcher.active()
    if running is not None:
        return RetrainAttempt(False, f"a retrain is still running: {running}")
    psi = {name: report.columns[name].psi for name in report.drifted_features}
    request = RetrainRequest(window, verdict.reason, psi)
    launched = launcher.launch(request)
    store.record_retrain(
        engine, store.Retrain(window, now, launched.name, launcher.kind, verdict.reason)
    )
    return RetrainAttempt(launched.created, verdict.reason, launched.name, launcher.kind)


def run_check(
    settings: Settings, profile: Any, version: str, launcher: Launcher, now: float | None = None
) -> Report:
    """Check the window holding `now` (default: the current one) and act on it."""
    now = time.time() if now is None else now
    engine = connect(str(settings.predlog.url))
    number = int(now // settings.drift.window_s)
    report = judge(store.read_window(engine, number, settings.drift.window_s), profile, version,
                   settings)  # fmt: skip
    store.record_window(
        engine,
        number,
        checked_at=now,
        rows=report.rows,
        status=report.status,
        report=report.to_json(),
    )
    if report.status == Status.DRIFT:
        report.retrain = maybe_retrain(engine, report, launcher, now, settings)
    engine.dispose()
    return report
