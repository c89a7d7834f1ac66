"""The numbers a promotion is decided on: challenger against champion on each holdout, the
paired bootstrap interval of the RMSE gain on the one that judges, and the challenger's
single-row latency.

Two holdouts: the frozen reference holdout (the same block groups for every version) and,
when a retrain had labelled served rows, the recent holdout (the population served now,
training.recent). The recent one judges when it holds `registry.min_recent_rows` rows; the
reference one then only guards against a regression beyond `registry.reference_tolerance`.
"""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.profile import FloatArray
from core.settings import Settings
from training.datasets import RECENT_HOLDOUT, Split, load_split, split_path
from training.policy import Interval, paired_bootstrap
from training.scores import score

LATENCY_CALLS = 200


@dataclass(frozen=True)
class Comparison:
    """Challenger and champion on one holdout (the same rows for both)."""

    holdout: str
    rows: int
    challenger_rmse: float
    champion_rmse: float | None
    interval: Interval | None


@dataclass(frozen=True)
class Evidence:
    reference: Comparison
    recent: Comparison | None
    latency_ms: float

    @property
    def judge(self) -> Comparison:
        """The holdout the promotion is decided on: the recent one when there is one."""
        return self.recent or self.reference


def predictions(model: Any, holdout: Split) -> FloatArray:
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


def compare(
    settings: Settings, label: str, holdout: Split, challenger: Any, champion: Any
) -> Comparison:
    """Both models on the same `holdout` rows; no interval without a champion."""
    challenger_predicted = predictions(challenger, holdout)
    rmse = score(holdout.y, challenger_predicted).rmse
    if champion is None:
        return Comparison(label, len(holdout.y), rmse, None, None)
    champion_predicted = predictions(champion, holdout)
    registry = settings.registry
    interval = paired_bootstrap(
        (champion_predicted - holdout.y) ** 2, (challenger_predicted - holdout.y) ** 2,
        registry.bootstrap_resamples, registry.confidence, settings.train.seed,
    )  # fmt: skip
    return Comparison(label, len(holdout.y), rmse, score(holdout.y, champion_predicted).rmse,
                      interval)  # fmt: skip


def _recent_holdout(settings: Settings) -> Split | None:
    """The recent holdout when it has enough rows to judge on."""
    prepared = settings.data.prepared_dir
    if not split_path(prepared, RECENT_HOLDOUT).exists():
        return None
    holdout = load_split(prepared, RECENT_HOLDOUT)
    return holdout if len(holdout.y) >= settings.registry.min_recent_rows else None


def gather(settings: Settings, challenger_uri: str, champion: str | None) -> Evidence:
    """Each holdout read once; the reference one also times the challenger's single rows."""
    import mlflow

    challenger = mlflow.sklearn.load_model(challenger_uri)
    champion_model = (
        None if champion is None
        else mlflow.sklearn.load_model(f"models:/{settings.registry.model_name}/{champion}")
    )  # fmt: skip
    reference_rows = load_split(settings.data.prepared_dir, "holdout")
    reference = compare(settings, "holdout", reference_rows, challenger, champion_model)
    recent_rows = _recent_holdout(settings)
    recent = None
    if recent_rows is not None:
        recent = compare(settings, "recent holdout", recent_rows, challenger, champion_model)
    return Evidence(reference, recent, single_row_ms(challenger, reference_rows.x))
