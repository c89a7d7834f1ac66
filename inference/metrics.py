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

The per-row series are a custom collector holding numpy counts: one vectorised add per request
instead of one `observe` per row (10,000 calls for a full batch). MLServer serves the process's
default registry when `parallel_workers` is 0, which `inference.server.build` guarantees; the
gauges still declare a multiprocess mode, should that ever change.
"""

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from core.features import FEATURE_NAMES
from core.profile import ReferenceProfile

REQUEST_LOG: Final = logging.getLogger("calhousing.requests")
Protocol = Literal["rest", "grpc"]
Outcome = Literal["ok", "rejected", "error"]

LABELS: Final = ("model", "version")
LATENCY_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
)  # fmt: skip
"""Seconds: a scikit-learn row takes ~0.2 ms, a 10k-row batch tens of ms; 1 s is already sick."""
PREDICTION_BUCKETS: Final = (
    0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0,
)  # fmt: skip
"""$100k: the target spans 0.15 to 5.0 (capped), most of it between 0.5 and 3."""
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


class Distributions:
    """Per-row counts of one model version: inputs per reference bin, predicted values."""

    def __init__(self, labels: tuple[str, str], profile: ReferenceProfile | None) -> None:
        self.labels = labels
        self.profile = profile
        columns = [profile.feature(name) for name in FEATURE_NAMES] if profile else []
        self._edges = [np.asarray(c.edges, dtype=np.float64) for c in columns]
        self._bins = [np.zeros(len(c.edges) + 1, dtype=np.int64) for c in columns]
        self._predicted = np.zeros(len(PREDICTION_BUCKETS) + 1, dtype=np.int64)
        self._predicted_sum = 0.0
        self._lock = threading.Lock()  # scrapes run in a thread of the metrics server

    def observe(self, matrix: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64]) -> None:
        index = [np.searchsorted(e, matrix[:, i], side="right") for i, e in enumerate(self._edges)]
        buckets = np.searchsorted(PREDICTION_BUCKETS, predicted, side="left")
        with self._lock:
            for counts, found in zip(self._bins, index, strict=True):
                np.add(counts, np.bincount(found, minlength=len(counts)), out=counts)
            self._predicted += np.bincount(buckets, minlength=len(self._predicted))
            self._predicted_sum += float(predicted.sum())

    def families(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        with self._lock:
            bins = [counts.copy() for counts in self._bins]
            predicted, total = self._predicted.cumsum(), self._predicted_sum
        edges = [f"{e:g}" for e in PREDICTION_BUCKETS] + ["+Inf"]
        histogram = HistogramMetricFamily(
            "calhousing_predicted_value", "Predicted median house values, $100k.", labels=LABELS
        )
        histogram.add_metric(
            list(self.labels), list(zip(edges, predicted.tolist(), strict=True)), total
        )
        yield histogram
        if self.profile is not None:
            yield from self._bin_families(self.profile, bins)

    def _bin_families(
        self, profile: ReferenceProfile, bins: list[npt.NDArray[np.int64]]
    ) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        observed = CounterMetricFamily(
            "calhousing_feature_bin",
            "Input values per feature, counted in the reference profile's bins.",
            labels=[*LABELS, "feature", "bin"],
        )
        reference = GaugeMetricFamily(
            "calhousing_feature_reference_share",
            "Share of the training data in each reference bin (`range` is [lower, upper)).",
            labels=[*LABELS, "feature", "bin", "range"],
        )
        for name, counts in zip(FEATURE_NAMES, bins, strict=True):
            column = profile.feature(name)
            bounds = [-np.inf, *column.edges, np.inf]
            for i, (count, share) in enumerate(zip(counts, column.proportions, strict=True)):
                label = [*self.labels, name, f"{i:02d}"]
                observed.add_metric(label, float(count))
                reference.add_metric([*label, f"[{bounds[i]:g}, {bounds[i + 1]:g})"], share)
        yield observed
        yield reference


class _Collector(Collector):
    """Exposes the distributions of every loaded version (several during a hot reload)."""

    def __init__(self) -> None:
        self.loaded: dict[tuple[str, str], Distributions] = {}

    def collect(self) -> Iterable[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        for distributions in list(self.loaded.values()):
            yield from distributions.families()


COLLECTOR: Final = _Collector()
REGISTRY.register(COLLECTOR)


class Request:
    """What one request did, filled in while it runs; `ModelMetrics.request` records it."""

    def __init__(self, protocol: Protocol, request_id: str, proxy_id: str) -> None:
        self.protocol, self.request_id, self.proxy_id = protocol, request_id, proxy_id
        self.outcome: Outcome = "error"
        self.reason, self.feature, self.rows = "", "", 0
        self.seconds = 0.0

    def reject(self, reason: str, feature: str) -> None:
        self.outcome, self.reason, self.feature = "rejected", reason, feature


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
        self._in_flight = IN_FLIGHT.labels(*self.labels)
        # Zero series from the start: a ratio or `increase` needs them before the first event.
        for protocol in get_args(Protocol):
            REQUEST_SECONDS.labels(*self.labels, protocol)
            BATCH_ROWS.labels(*self.labels, protocol)
            for outcome in get_args(Outcome):
                REQUESTS.labels(*self.labels, protocol, outcome)

    @contextmanager
    def request(self, protocol: Protocol, request_id: str, proxy_id: str = "") -> Iterator[Request]:
        """Count the request in flight, then record its latency and outcome as series and as
        one log line (an exception that escapes without `reject` is an error)."""
        request, start = Request(protocol, request_id, proxy_id), time.perf_counter()
        self._in_flight.inc()
        try:
            yield request
            if request.outcome == "error":  # not rejected, and nothing escaped
                request.outcome = "ok"
        finally:
            self._in_flight.dec()
            request.seconds = time.perf_counter() - start
            self._record(request)

    def observe(
        self, request: Request, matrix: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64]
    ) -> None:
        request.rows = len(matrix)
        BATCH_ROWS.labels(*self.labels, request.protocol).observe(len(matrix))
        self.distributions.observe(matrix, predicted)

    def _record(self, request: Request) -> None:
        REQUEST_SECONDS.labels(*self.labels, request.protocol).observe(request.seconds)
        REQUESTS.labels(*self.labels, request.protocol, request.outcome).inc()
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
                "duration_ms": round(request.seconds * 1000, 3),
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
