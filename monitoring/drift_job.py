"""The drift check's edges: the production model's reference profile from MLflow, and the
report written three ways (a JSON file, an MLflow run with the file and the scores, pushed
metrics). `run` is what `calhousing drift` calls."""

import tempfile
import time
from pathlib import Path
from typing import Any

from core import registry
from core.errors import CalhousingError
from core.profile import ReferenceProfile
from core.settings import Settings
from core.telemetry import DRIFT_JOB, RETRAIN_TRIGGER, Sample, batch_job, drift_samples, push
from monitoring.check import Outcome, Report, outcome, run_check
from monitoring.launchers import launcher_for


def _client(settings: Settings) -> Any:
    return registry.connect(settings.mlflow.tracking_uri)


def production_version(settings: Settings, client: Any | None = None) -> str:
    """The version the alias names; an error before the first promotion."""
    names = settings.registry
    client = client if client is not None else _client(settings)
    version = registry.alias_version(client, names.model_name, names.alias)
    if version is None:
        raise CalhousingError(f"{names.model_uri} names no version yet: nothing to check")
    return version


def production_profile(settings: Settings) -> tuple[str, ReferenceProfile]:
    """The version the alias names and the reference profile logged with it (one client, so
    one health check)."""
    client = _client(settings)
    version = production_version(settings, client)
    found = client.get_model_version(settings.registry.model_name, version)
    with tempfile.TemporaryDirectory() as folder:
        uri = settings.mlflow.tracking_uri
        return version, registry.reference_profile(uri, str(found.run_id), Path(folder))


def log_report(settings: Settings, report: Report) -> Path:
    folder = settings.drift.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"drift-window-{report.window}.json"
    path.write_text(report.to_json() + "\n")
    client = _client(settings)
    found = client.get_experiment_by_name(settings.drift.experiment)
    experiment = (
        found.experiment_id if found else client.create_experiment(settings.drift.experiment)
    )
    tags = {"status": report.status, "window": str(report.window),
            "model.version": report.production_version,
            "drifted": ",".join(report.drifted_features)}  # fmt: skip
    run = client.create_run(experiment, run_name=f"drift-{report.window}", tags=tags)
    metrics = {f"psi.{name}": column.psi for name, column in report.columns.items()}
    for name, value in (metrics | {"rows": float(report.rows)}).items():
        client.log_metric(run.info.run_id, name, value)
    client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    return path


def push_report(settings: Settings, report: Report) -> None:
    group = {"model": settings.registry.model_name}
    scores = {name: column.psi for name, column in report.columns.items()}
    samples = drift_samples(report.production_version, scores, settings.drift.psi_threshold)
    if report.retrain is not None and report.retrain.started:
        samples.append(Sample(RETRAIN_TRIGGER, time.time(), {"reason": "drift"}))
    push(settings.monitoring, DRIFT_JOB, group, samples)


def summary(report: Report, path: Path) -> str:
    lines = [f"drift: window {report.window}, {report.rows} rows, production "
             f"v{report.production_version}: {report.status} (report {path})"]  # fmt: skip
    lines += [f"  quality: {problem}" for problem in report.quality_problems]
    for name, column in report.columns.items():
        mark = "DRIFT" if column.drifted else "ok"
        lines.append(f"  {name:<11} PSI {column.psi:.3f}  KS {column.ks:.3f} "
                     f"(p {column.p_value:.2g})  mean {column.reference_mean:.3g} -> "
                     f"{column.live_mean:.3g}  {mark}")  # fmt: skip
    if report.retrain:
        lines.append(f"  retrain: {report.retrain.describe()}")
    return "\n".join(lines)


def run(settings: Settings, now: float | None = None) -> tuple[str, Outcome]:
    if settings.predlog.url is None:
        raise CalhousingError("predlog.url is not set: there is no prediction log to check")
    with batch_job(settings.monitoring, DRIFT_JOB, settings.registry.model_name):
        version, profile = production_profile(settings)
        report = run_check(settings, profile, version, launcher_for(settings), now)
        path = log_report(settings, report)
        push_report(settings, report)
    return summary(report, path), outcome(report)
