"""One frozen, typed settings object, fed by params.yaml and the environment.

params.yaml holds what shapes a model (DVC tracks those keys per stage); the environment
holds where things run (ports, URIs), and overrides any key: `CALHOUSING_<SECTION>__<KEY>`,
e.g. `CALHOUSING_MLFLOW__TRACKING_URI=http://mlflow:5000`. Nothing else reads os.environ.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Family = Literal["linear", "random_forest", "hist_gradient_boosting"]


RUN_DIR: Final = Path(".run")
"""The root of everything a local run writes: the defaults below derive from it, and follow
`local.run_dir` when that is set (Settings._under_run_dir)."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class MlflowSettings(Section):
    tracking_uri: str = "http://127.0.0.1:5000"
    experiment: str = "calhousing"
    # Server side, used by `calhousing mlflow-server` (local demo and the chart).
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    backend_store_uri: str = f"sqlite:///{RUN_DIR}/mlflow/mlflow.db"
    artifacts_destination: str = str(RUN_DIR / "mlflow" / "artifacts")
    allowed_hosts: tuple[str, ...] = ()
    """Host headers the server accepts beyond localhost (MLflow >= 3.5 answers 403 otherwise)."""
    workers: int = Field(1, ge=1)
    app_name: Literal["basic-auth"] | None = None
    """`basic-auth`: every call but /health needs a user (HTTP 401 otherwise). The server then
    also needs MLFLOW_AUTH_ADMIN_PASSWORD and MLFLOW_FLASK_SERVER_SECRET_KEY in its environment
    (Secrets in the chart) and keeps its users in ./basic_auth.db, in its working directory."""


class ServeSettings(Section):
    host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    grpc_port: int = Field(8081, ge=1, le=65535)
    metrics_port: int = Field(8082, ge=1, le=65535)
    model_uri: str | None = None
    """What to serve; defaults to the registry alias, `models:/<model_name>@<alias>`."""
    max_batch_rows: int = Field(10_000, ge=1)
    """Larger batches are refused with 400 before any work is done."""
    max_request_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    """Larger REST bodies (413) and gRPC messages (RESOURCE_EXHAUSTED) are refused unread. A
    full batch of 10,000 rows is about 1.5 MB of JSON; keep the ingress limit in step."""
    predict_threads: int = Field(1, ge=1)
    """OpenMP threads per prediction. More threads contend for a pod's CPU share: a single-row
    predict measured 150 ms with the default (one per host core), 0.25 ms with one."""
    compiled_trees: bool = True
    """Predict small batches of a HistGradientBoosting model by walking all its trees at once
    in numpy (inference.booster): ~20x faster for one row than scikit-learn's per-tree loop.
    Used only if it matches the estimator to 1e-9 when loaded; false: scikit-learn always."""
    workdir: Path = RUN_DIR / "mlserver"
    """MLServer's scratch space (metrics files); an emptyDir in the cluster."""
    model_wait_s: float = Field(0.0, ge=0)
    """How long start-up waits for the model to exist (MLflow answering, the alias set) before
    it fails. The chart sets its startup probe's window, so a fresh install's predictor waits,
    not ready, for the first training Job instead of crash-looping."""
    model_wait_interval_s: float = Field(5.0, gt=0)
    """Pause between two looks at the registry while waiting."""
    follow_alias_s: float = Field(30.0, ge=0)
    """How often a server started on an alias (`models:/<name>@production`) asks the registry
    where the alias points, and moves to that version when it changed: loaded beside the one
    serving, then swapped in between two requests. 0: serve the version loaded at start."""


class MonitoringSettings(Section):
    pushgateway_url: str | None = None
    """Prometheus Pushgateway that batch jobs (training, drift checks) push their metrics to,
    e.g. http://pushgateway:9091. None: nothing is pushed."""
    push_timeout_s: float = Field(5.0, gt=0)
    """A slow or down Pushgateway costs a batch job at most this, and never fails it."""
    trigger: Literal["manual", "schedule", "drift"] = "manual"
    """What started this training: a label on its pushed decision."""
    json_logs: bool = True
    """Serve with one JSON object per log line (request id, model, version) for log shippers."""
    prometheus_port: int = Field(9090, ge=1, le=65535)
    """Local Prometheus of `calhousing prometheus` (the demo; a cluster has its own)."""
    pushgateway_port: int = Field(9091, ge=1, le=65535)


class PredlogSettings(Section):
    """The prediction log: every served row, written off the request path by a background
    thread in batches. One SQLAlchemy URL: SQLite locally, PostgreSQL in the cluster."""

    url: str | None = f"sqlite:///{RUN_DIR}/predictions.db"
    """Where rows go, e.g. postgresql://user:pass@host:5432/predictions. None: not logged."""
    batch_rows: int = Field(500, ge=1)
    """Rows per INSERT: the writer flushes when it has this many, or every flush_interval_s."""
    flush_interval_s: float = Field(1.0, gt=0)
    queue_requests: int = Field(10_000, ge=1)
    """Requests waiting to be written; beyond this a request's rows are dropped (counted in
    calhousing_predlog_dropped_rows_total and logged) rather than slowing serving down."""
    retries: int = Field(3, ge=0)
    """Attempts after a failed write (with doubling back-off) before its rows are dropped."""
    retry_backoff_s: float = Field(0.5, gt=0)
    shutdown_timeout_s: float = Field(10.0, gt=0)
    """How long a graceful shutdown waits for the queue to be written."""

    @field_validator("url", mode="before")
    @classmethod
    def _empty_url_is_off(cls, value: object) -> object:
        # An environment variable cannot say None: CALHOUSING_PREDLOG__URL="" switches it off.
        return None if value == "" else value


class DriftSettings(Section):
    """The drift check (`calhousing drift`): a window of logged predictions against the
    production model's reference profile, then maybe a retrain."""

    window_s: int = Field(3600, ge=1)
    """Length of a window; windows are numbered floor(end / window_s), so two checks in the
    same window share its number (and its retrain Job name)."""
    min_rows: int = Field(200, ge=1)
    """A window with fewer rows is too small to judge: reported, never a retrain."""
    psi_threshold: float = Field(0.2, gt=0)
    """Population stability index above which a column has moved (0.1 small, 0.25 large)."""
    ks_alpha: float = Field(0.01, gt=0, lt=1)
    """A column drifts when its PSI is above the threshold AND the Kolmogorov-Smirnov test
    rejects 'same distribution' at this level: PSI says the shift matters, KS that a small
    window did not just get unlucky."""
    max_null_share: float = Field(0.01, ge=0, le=1)
    """Data-quality gate: more missing values than this in any feature blocks the retrain."""
    max_out_of_range_share: float = Field(0.05, ge=0, le=1)
    """Data-quality gate: share of rows of a feature outside its physical range."""
    max_scale_ratio: float = Field(5.0, gt=1)
    """Data-quality gate: a feature whose median moved by this factor from the reference is
    taken for a unit change upstream (dollars for $10k), not drift."""
    consecutive: int = Field(2, ge=1)
    """Drift must persist for this many consecutive windows before a retrain starts."""
    cooldown_s: int = Field(86_400, ge=0)
    """No new retrain within this long of the last one."""
    launcher: Literal["process", "kubernetes"] = "process"
    """How a retrain starts: `process` runs `calhousing pipeline` here; `kubernetes` creates a
    Job from the retrain CronJob's template through the Kubernetes API."""
    namespace: str = "default"
    retrain_cronjob: str = "calhousing-retrain"
    """The suspended CronJob whose jobTemplate a retrain Job is created from."""
    retrain_tags: dict[str, str] = Field(default_factory=dict)
    """Set by the drift check on the retrain it starts (env CALHOUSING_DRIFT__RETRAIN_TAGS, as
    JSON): the trigger's reason and window statistics; register copies them onto the
    challenger's run and model version."""
    report_dir: Path = RUN_DIR / "drift"
    """Where each check writes its JSON report (also logged to MLflow)."""
    experiment: str = "calhousing-drift"
    """MLflow experiment of the drift check runs."""


class LocalSettings(Section):
    run_dir: Path = RUN_DIR
    """Logs, pid files and the local MLflow store of `make demo`; the defaults of the paths
    below it (MLflow's store, MLServer's workdir, the prediction log, drift reports) follow."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALHOUSING_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    data: DataSettings = DataSettings()
    train: TrainSettings = TrainSettings()
    registry: RegistrySettings = RegistrySettings()
    mlflow: MlflowSettings = MlflowSettings()
    serve: ServeSettings = ServeSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    predlog: PredlogSettings = PredlogSettings()
    drift: DriftSettings = DriftSettings()
    local: LocalSettings = LocalSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # params.yaml arrives as init arguments; the environment must win over it.
        return (env_settings, init_settings)

    @model_validator(mode="before")
    @classmethod
    def _under_run_dir(cls, data: Any) -> Any:
        """Paths left unset follow `local.run_dir` when it moves from RUN_DIR."""
        local = data.get("local") if isinstance(data, dict) else None
        run_dir = _field(local, "run_dir")
        if run_dir is None or Path(run_dir) == RUN_DIR:
            return data
        root = Path(run_dir)
        derived = {
            ("mlflow", "backend_store_uri"): f"sqlite:///{root}/mlflow/mlflow.db",
            ("mlflow", "artifacts_destination"): str(root / "mlflow" / "artifacts"),
            ("serve", "workdir"): root / "mlserver",
            ("predlog", "url"): f"sqlite:///{root}/predictions.db",
            ("drift", "report_dir"): root / "drift",
        }
        data = dict(data)
        for (section, name), value in derived.items():
            data[section] = _with_default(data.get(section), name, value)
        return data

    @model_validator(mode="after")
    def _ports_differ(self) -> "Settings":
        ports = (self.serve.http_port, self.serve.grpc_port, self.serve.metrics_port)
        if len(set(ports)) != len(ports):
            raise ValueError(f"serve ports must differ, got {ports}")
        return self

    @property
    def serve_model_uri(self) -> str:
        return self.serve.model_uri or self.registry.model_uri


def _is_set(section: Any, name: str) -> bool:
    """Whether a section, given as a dict (params.yaml, the environment) or a model, sets it."""
    if isinstance(section, BaseModel):
        return name in section.model_fields_set
    return isinstance(section, dict) and name in section


def _field(section: Any, name: str) -> Any:
    if not _is_set(section, name):
        return None
    return getattr(section, name) if isinstance(section, BaseModel) else section[name]


def _with_default(section: Any, name: str, value: Any) -> Any:
    if _is_set(section, name):
        return section
    if isinstance(section, BaseModel):
        return section.model_copy(update={name: value})
    return {**(section or {}), name: value}


def load_settings(params_path: Path | None = Path("params.yaml")) -> Settings:
    """Read params.yaml (a missing default file means code defaults) under the environment."""
    values: dict[str, Any] = {}
    if params_path is not None and params_path.exists():
        values = yaml.safe_load(params_path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{params_path}: expected a mapping at the top level")
    return Settings(**values)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child process of ours: this one's, with `extra` on top (settings
    the child reads through its own Settings). Here because this module alone reads it."""
    return {**os.environ, **extra}
