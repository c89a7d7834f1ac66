"""What shapes a model (params.yaml; DVC tracks these keys per stage): the data, the model
families and their hyperparameters, and the promotion gate."""

from pathlib import Path
from typing import Literal

from pydantic import Field

from core.settings.base import Section

Family = Literal["linear", "random_forest", "hist_gradient_boosting"]


class RecentDataSettings(Section):
    """Labelled served rows (`calhousing feedback`) that join a retrain's data: the population
    the model serves now, beside the reference data set."""

    path: Path = Path("data/recent/labelled.csv")
    """The snapshot a retrain trains on: a DVC output, so each one is a data version."""
    max_age_days: float = Field(30.0, gt=0)
    """Rows whose prediction is older than this are left out."""
    max_rows: int = Field(20_000, ge=1)
    """At most this many rows, the most recent first."""
    min_rows: int = Field(200, ge=1)
    """A drift-triggered retrain with fewer labelled rows stops and trains nothing: without
    labels of the new population it could only learn the old one again."""
    holdout_fraction: float = Field(0.3, gt=0, lt=1)
    """Share of those rows held out (by a hash of each row) to judge challenger and champion."""


class DataSettings(Section):
    source: str = "sklearn"
    """Where ingest reads: `sklearn` (scikit-learn's fetcher, needs internet), an http(s) URL
    or a local CSV path with the columns of `core.features`."""
    raw_path: Path = Path("data/raw/california_housing.csv")
    prepared_dir: Path = Path("data/prepared")
    holdout_fraction: float = Field(0.2, gt=0, lt=0.5)
    """Share of rows in the frozen holdout. A row's split depends only on its own values and
    `split_salt`, so new data never moves an old row between splits."""
    validation_fraction: float = Field(0.2, gt=0, lt=0.5)
    split_salt: str = "calhousing-v1"
    """Changing the salt re-draws every split: champions and challengers then stop being
    comparable, so do it only with a new model name."""
    min_rows: int = Field(1_000, ge=1)
    """Ingest refuses a data set with fewer rows: a truncated download must not become a model."""
    profile_bins: int = Field(10, ge=2, le=100)
    """Quantile bins per feature in the reference profile that drift checks compare against."""
    recent: RecentDataSettings = RecentDataSettings()


class LinearParams(Section):
    alpha: float = Field(1.0, ge=0)


class RandomForestParams(Section):
    n_estimators: int = Field(100, ge=1)
    max_depth: int | None = Field(None, ge=1)
    min_samples_leaf: int = Field(5, ge=1)
    max_features: float = Field(0.5, gt=0, le=1)


class HistGradientBoostingParams(Section):
    """Tuned on the validation split: holdout RMSE 0.443 ($100k) on the real data."""

    max_iter: int = Field(800, ge=1)
    learning_rate: float = Field(0.05, gt=0, le=1)
    max_leaf_nodes: int = Field(63, ge=2)
    min_samples_leaf: int = Field(20, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    max_features: float = Field(0.7, gt=0, le=1)
    """Share of features each split may consider: decorrelates the trees like a random forest."""
    early_stopping: bool = False


class TrainSettings(Section):
    seed: int = 42
    families: tuple[Family, ...] = ("linear", "random_forest", "hist_gradient_boosting")
    linear: LinearParams = LinearParams()
    random_forest: RandomForestParams = RandomForestParams()
    hist_gradient_boosting: HistGradientBoostingParams = HistGradientBoostingParams()
    n_jobs: int = Field(-1, ge=-1)
    """Cores a model may use while fitting (-1: all)."""
    refit: bool = True
    """Fit the family that won on validation again on train + validation, and register that
    (training.refit): the holdout, untouched, still judges it."""
    artifacts_dir: Path = Path("artifacts")
    """Where stage outputs (candidates, evaluation, decision) are written for DVC."""


class RegistrySettings(Section):
    model_name: str = "calhousing"
    alias: str = "production"
    min_improvement: float = Field(0.0, ge=0)
    """A challenger is promoted only if it beats the champion's holdout RMSE by more than this,
    at `confidence`: the low end of the paired-bootstrap interval of the gain must exceed it."""
    bootstrap_resamples: int = Field(2_000, ge=100)
    """Paired bootstrap resamples of the holdout rows for the RMSE-difference interval."""
    confidence: float = Field(0.95, gt=0.5, lt=1)
    """The interval on (champion RMSE - challenger RMSE) must exclude zero at this level: a
    challenger better only by the holdout's luck of the draw is not promoted."""
    latency_budget_ms: float = Field(25.0, gt=0)
    """Median single-row predict time (one thread, as served) a challenger must meet."""
    min_recent_rows: int = Field(100, ge=1)
    """With at least this many rows in the recent holdout (labelled served rows) the challenger
    is judged there, on the population served now; with fewer, on the reference holdout."""
    reference_tolerance: float = Field(0.02, ge=0)
    """Judged on the recent holdout, a challenger may still be worse than the champion on the
    frozen reference holdout by at most this RMSE ($100k)."""
    promotion_lock_s: float = Field(60.0, gt=0)
    """A promotion holds the model's lock while it re-reads and moves the alias (seconds of
    REST calls); a lock older than this was left by a promoter that died, and is broken."""

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}@{self.alias}"
