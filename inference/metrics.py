"""The serving metrics, on MLServer's metrics port: every series carries `model` and the
concrete registry `version` (MLServer's own leave the version empty, see FIELD-NOTES).

Per request: latency and batch size by protocol, requests by outcome, refusals by reason and
feature, requests in flight, and one log line (`calhousing.requests`) with the request id.
Per row: inputs counted in the reference profile's bins, and predicted values in buckets
fitted to the target (0.15 to 5.0, $100k).

Why fixed reference bins rather than an online PSI: bin counts are counters, so they add up
across replicas and restarts, and any window's PSI is a query (`increase` over the window, see
the chart's recording rules) instead of a number frozen to one pod's lifetime. The reference
share of each bin is exported beside them, so the comparison needs nothing but Prometheus.

The per-row series are a custom collector holding numpy counts (inference.distributions): one
vectorised add per request, not one `observe` per row. MLServer serves the default registry
when `parallel_workers` is 0 (`inference.server.build`); the gauges still declare a
multiprocess mode, should that change.
"""

import logging
import time
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter, Gauge, Histogram

from core.profile import ReferenceProfile
from inference.distributions import COLLECTOR, LABELS, Distributions

REQUEST_LOG: Final = logging.getLogger("calhousing.requests")
Protocol = Literal["rest", "grpc"]
Outcome = Literal["ok", "rejected", "error"]

LATENCY_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
"""Seconds: a scikit-learn row takes ~0.2 ms, a 10k-row batch tens of ms; 1 s is already sick."""
BATCH_BUCKETS: Final = (1, 2, 5, 10, 25, 50, 100, 250, 1000, 2500, 10_000)

REQUEST_SECONDS: Final = Histogram(
    "calhousing_request_duration_seconds",
    "Time in the model runtime per inference request (decode, validate, predict, encode).",
    [*LABELS, "protocol"],
    buckets=LATENCY_BUCKETS,
)
REQUESTS: Final = Counter(
    "calhousing_requests", "Inference requests by outcome.", [*LABELS, "protocol", "outcome"]
)
REJECTED: Final = Counter(
    "calhousing_rejected_requests",
    'Requests refused before the model saw them, by reason and by feature ("" if none).',
    [*LABELS, "protocol", "reason", "feature"],
)
BATCH_ROWS: Final = Histogram(
    "calhousing_batch_rows", "Rows per accepted request.", [*LABELS, "protocol"],
    buckets=BATCH_BUCKETS,
)  # fmt: skip
IN_FLIGHT: Final = Gauge(
    "calhousing_requests_in_flight", "Requests in the runtime now.", LABELS,
    multiprocess_mode="livesum",
)  # fmt: skip
MODEL_INFO: Final = Gauge(
    "calhousing_model_info",
    "The loaded model version's provenance (value 1).",
    [*LABELS, "uri", "run_id", "git_sha", "data_version"],
    multiprocess_mode="livemostrecent",
)
MODEL_READY: Final = Gauge(
    "calhousing_model_ready", "1 while this version serves.", LABELS,
    multiprocess_mode="livemax",
)  # fmt: skip
MODEL_LOADED: Final = Gauge(
    "calhousing_model_load_timestamp_seconds", "Unix time the version was loaded.", LABELS,
    multiprocess_mode="livemostrecent",
)  # fmt: skip
SWITCHES: Final = Counter(
    "calhousing_model_switches",
    "Moves to another version while serving (the alias moved); `version` is the one moved to.",
    LABELS,
)
LOAD_FAILURES: Final = Counter(
    "calhousing_model_load_failures",
    "Failed model loads; the version is `unresolved` when the registry never named one.",
    LABELS,
)


@dataclass(frozen=True)
class Provenance:
    uri: str
    run_id: str
    git_sha: str
    data_version: str


class Request:
    """What one request did, filled in while it runs; `ModelMetrics.request` records it."""

    __slots__ = ("feature", "outcome", "protocol", "proxy_id", "reason", "request_id", "rows")

    def __init__(self, protocol: Protocol, request_id: str, proxy_id: str) -> None:
        self.protocol, self.request_id, self.proxy_id = protocol, request_id, proxy_id
        self.outcome: Outcome = "error"
        self.reason, self.feature, self.rows = "", "", 0

    def reject(self, reason: str, feature: str) -> None:
        self.outcome, self.reason, self.feature = "rejected", reason, feature


class _Series:
    """One protocol's request series, bound to their labels once (`labels()` is a dict look-up
    under a lock, three times per request otherwise)."""

    def __init__(self, labels: tuple[str, str], protocol: Protocol) -> None:
        self.seconds = REQUEST_SECONDS.labels(*labels, protocol)
        self.rows = BATCH_ROWS.labels(*labels, protocol)
        self.outcomes = {o: REQUESTS.labels(*labels, protocol, o) for o in get_args(Outcome)}


class _Timed:
    """The context of one request: in flight while it runs, then recorded (a class rather than
    a @contextmanager generator: a third of the cost)."""

    __slots__ = ("metrics", "request", "start")

    def __init__(self, metrics: "ModelMetrics", request: Request) -> None:
        self.metrics, self.request = metrics, request

    def __enter__(self) -> Request:
        self.metrics.in_flight.inc()
        self.start = time.perf_counter()
        return self.request

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        seconds = time.perf_counter() - self.start
        self.metrics.in_flight.dec()
        request = self.request
        if kind is None and request.outcome == "error":  # not rejected, and nothing escaped
            request.outcome = "ok"
        self.metrics.record(request, seconds)


class ModelMetrics:
    """Every serving series of one loaded model version."""

    def __init__(
        self, model: str, version: str, provenance: Provenance, profile: ReferenceProfile | None
    ) -> None:
        self.labels = (model, version)
        self.distributions = Distributions(self.labels, profile)
        self._info = (*self.labels, *vars(provenance).values())
        MODEL_INFO.labels(*self._info).set(1)
        MODEL_LOADED.labels(*self.labels).set(time.time())
        MODEL_READY.labels(*self.labels).set(1)
        COLLECTOR.loaded[self.labels] = self.distributions
        self.in_flight = IN_FLIGHT.labels(*self.labels)
        # Bound now, which also zeroes them: a ratio or `increase` needs them before any event.
        self._series = {p: _Series(self.labels, p) for p in get_args(Protocol)}

    def request(self, protocol: Protocol, request_id: str, proxy_id: str = "") -> _Timed:
        """Count the request in flight, then record its latency and outcome as series and as
        one log line (an exception that escapes without `reject` is an error)."""
        return _Timed(self, Request(protocol, request_id, proxy_id))

    def observe(
        self, request: Request, matrix: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64]
    ) -> None:
        request.rows = len(matrix)
        self._series[request.protocol].rows.observe(request.rows)
        self.distributions.observe(matrix, predicted)

    def record(self, request: Request, seconds: float) -> None:
        series = self._series[request.protocol]
        series.seconds.observe(seconds)
        series.outcomes[request.outcome].inc()
        if request.outcome == "rejected":
            REJECTED.labels(*self.labels, request.protocol, request.reason, request.feature).inc()
        REQUEST_LOG.log(
            logging.ERROR if request.outcome == "error" else logging.INFO,
            "inference %s",
            request.outcome,
            extra={
                "request_id": request.request_id,
                "proxy_request_id": request.proxy_id or None,
                "model": self.labels[0],
                "version": self.labels[1],
                "protocol": request.protocol,
                "outcome": request.outcome,
                "reason": request.reason or None,
                "feature": request.feature or None,
                "rows": request.rows,
                "duration_ms": round(seconds * 1000, 3),
            },
        )

    def close(self) -> None:
        """The version is unloaded: drop its gauges and distributions (its request counters
        stay, as history). Unless a reload of the same version has taken them over."""
        if COLLECTOR.loaded.get(self.labels) is not self.distributions:
            return
        del COLLECTOR.loaded[self.labels]
        for gauge in (MODEL_READY, MODEL_LOADED):
            gauge.remove(*self.labels)
        MODEL_INFO.remove(*self._info)


def loading(model: str) -> None:
    """A zero before any failure, so the first one shows as an increase."""
    LOAD_FAILURES.labels(model, "unresolved")


def load_failed(model: str, version: str = "unresolved") -> None:
    LOAD_FAILURES.labels(model, version).inc()


def switched(model: str, version: str) -> None:
    SWITCHES.labels(model, version).inc()
