"""Where and how things run (mostly set by the environment): the tracking server, the V2
server, monitoring, the prediction log, the drift check and the local run folder."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from core.settings.base import RUN_DIR, Section


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
    """Predict a boosted model through its forest tables (core.masks): ~25 us for one row
    against ~1 ms in scikit-learn's per-tree loop, and faster at 1,000 rows too. Loaded from the
    forest file training logged (no estimator deserialized, no `import mlflow`), or compiled
    from the estimator; used only where it matches the model to 1e-9. false: scikit-learn."""
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
    mlflow_timeout_s: float = Field(10.0, gt=0)
    """Each call of the server's MLflow client (resolving the alias, downloading a version)
    gives up after this. MLflow's own default is 120 s."""
    mlflow_retries: int = Field(2, ge=0)
    """...and is retried at most this often. MLflow's default, 7 retries with doubling
    back-off, kept a reload against a stopped server busy for minutes."""

    def mlflow_client_environment(self) -> dict[str, str]:
        """MLflow's client takes its HTTP timeout and retries from the environment only."""
        return {
            "MLFLOW_HTTP_REQUEST_TIMEOUT": f"{self.mlflow_timeout_s:g}",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.mlflow_retries),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        }

    @property
    def drain_marker(self) -> Path:
        """The file whose presence says the server will stop (the chart's preStop creates it):
        every REST answer then closes its connection (inference.drain)."""
        return self.workdir / "draining"


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
