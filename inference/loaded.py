"""What a load produces and how it is named: the version an alias pointed to, the predictor,
where the time went. Shared by both ways of loading (inference.loader)."""

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core.errors import CalhousingError
from core.profile import ReferenceProfile

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


class ModelUnavailableError(CalhousingError):
    """The model cannot be loaded yet: MLflow does not answer, or the name or alias does not
    exist (a fresh install before its first training run)."""


@dataclass(frozen=True)
class Wait:
    """How long to wait for a model that is not available yet, and how often to look."""

    seconds: float = 0.0
    interval_s: float = 5.0


class Regressor(Protocol):
    def predict(self, x: npt.NDArray[np.float64]) -> npt.NDArray[Any]: ...


@dataclass(frozen=True)
class ModelRef:
    """A registered model version: the concrete thing an alias pointed to."""

    name: str
    version: str
    run_id: str = ""

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    ref: ModelRef
    estimator: Regressor
    tags: dict[str, str]
    """The training run's tags (`git.sha`, `data.version`, ...): provenance for metrics."""
    profile: ReferenceProfile | None
    """None for a model logged without a profile: it serves, without input distributions."""
    predictor: str = "served by scikit-learn"
    """How predictions are computed (inference.booster's verdict), for the load log."""
    phases: str = ""
    """How long each phase of the load took, for the load log."""


def parse_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of `models:/<name>@<alias>` or `models:/<name>/<version>`."""
    match = _MODELS_URI.match(uri)
    if match is None:
        raise CalhousingError(
            f"model URI {uri!r} is not models:/<name>@<alias> or models:/<name>/<version>"
        )
    return match["name"], match["alias"], match["version"]


class Phases:
    """Where a load spends its time, for the load log (start to ready is mostly this)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - start

    def summary(self) -> str:
        total = sum(self.seconds.values())
        parts = ", ".join(f"{name} {s:.2f} s" for name, s in self.seconds.items())
        return f"in {total:.1f} s: {parts}"


def process_age_s() -> float | None:
    """Seconds since this process started, for the start's log: what precedes the load
    (interpreter, imports, servers) is most of a start. None where /proc does not say (not
    Linux)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        # Field 22, counted after the command name (which may hold spaces): clock ticks.
        started = int(stat.rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):  # AttributeError: no BOOTTIME
        return None
