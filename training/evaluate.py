"""Evaluate: load every candidate back from MLflow, score it on validation and holdout, check
its behaviour, pick the best by validation RMSE, and fit that family again on train +
validation (training.refit) for register to register."""

from collections.abc import Callable
from typing import Any

import numpy as np

from core.features import FEATURE_NAMES
from core.profile import FloatArray
from core.settings import Settings
from training.datasets import Split, load_split
from training.policy import select_best
from training.records import (
    CANDIDATES_FILE,
    EVALUATION_FILE,
    Candidate,
    Candidates,
    Evaluated,
    Evaluation,
    read_record,
    write_record,
)
from training.refit import refit
from training.scores import score
from training.tracking import connect

SANITY_ROWS = 500
MEDINC = FEATURE_NAMES.index("MedInc")

Predict = Callable[[FloatArray], FloatArray]


def sanity_checks(predict: Predict, sample: FloatArray) -> dict[str, bool]:
    """Cheap behaviour checks a sound house-price model passes on any sample."""
    base = predict(sample)
    richer = sample.copy()
    richer[:, MEDINC] += 1.0  # +$10k median income, everything else fixed
    return {
        "finite_outputs": bool(np.all(np.isfinite(base))),
        "medinc_raises_median": bool(np.median(predict(richer)) >= np.median(base)),
    }


def evaluate_candidate(candidate: Candidate, validation: Split, holdout: Split) -> Evaluated:
    import mlflow

    model: Any = mlflow.sklearn.load_model(candidate.model_uri)

    def predict(x: FloatArray) -> FloatArray:
        return np.asarray(model.predict(x), dtype=np.float64)

    checks = sanity_checks(predict, validation.x[:SANITY_ROWS])
    on_holdout = predict(holdout.x)
    checks["finite_outputs"] &= bool(np.all(np.isfinite(on_holdout)))
    return Evaluated(
        **candidate.model_dump(exclude={"validation"}),
        validation=score(validation.y, predict(validation.x)),
        holdout=score(holdout.y, on_holdout),
        checks=checks,
    )


def log_evaluation(client: Any, evaluated: Evaluated) -> None:
    """Into the candidate's own run, so one run page shows the whole story."""
    for name, value in evaluated.holdout.prefixed("holdout").items():
        client.log_metric(evaluated.run_id, name, value)
    for name, ok in evaluated.checks.items():
        client.set_tag(evaluated.run_id, f"check.{name}", "pass" if ok else "fail")


def evaluate(settings: Settings) -> str:
    artifacts, prepared = settings.train.artifacts_dir, settings.data.prepared_dir
    candidates = read_record(Candidates, artifacts / CANDIDATES_FILE)
    validation, holdout = load_split(prepared, "validation"), load_split(prepared, "holdout")
    client = connect(settings.mlflow)
    evaluated = {}
    for candidate in candidates.candidates:
        evaluated[candidate.family] = evaluate_candidate(candidate, validation, holdout)
        log_evaluation(client, evaluated[candidate.family])
    best = select_best(evaluated)
    final = refitted(settings, evaluated[best], validation, holdout, client)
    record = Evaluation(
        data_version=candidates.data_version,
        recent_version=candidates.recent_version,
        best=best,
        candidates=evaluated,
        refit=final,
    )
    write_record(record, artifacts / EVALUATION_FILE)
    return summary(record)


def refitted(
    settings: Settings, chosen: Evaluated, validation: Split, holdout: Split, client: Any
) -> Evaluated | None:
    """The chosen family fitted on train + validation and scored on the holdout (if enabled)."""
    if not settings.train.refit:
        return None
    scored = evaluate_candidate(refit(settings, chosen, validation), validation, holdout)
    final = scored.model_copy(update={"validation": chosen.validation})
    log_evaluation(client, final)
    return final


def summary(record: Evaluation) -> str:
    lines = [
        f"  {e.family}{' refit on train + validation' if e is record.refit else ''}: "
        f"validation RMSE {e.validation.rmse:.4f}, holdout RMSE {e.holdout.rmse:.4f}, "
        f"checks {'pass' if e.sane else e.checks}"
        for e in [*record.candidates.values(), *([record.refit] if record.refit else [])]
    ]
    return "\n".join([f"evaluate: best is {record.best} (lowest validation RMSE)", *lines])
