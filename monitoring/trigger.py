"""When drift starts a retrain (a pure rule), and what every launcher is given and must do.

A retrain starts when the last `consecutive` windows all drifted (with the data-quality gate
passed) and the last retrain is older than the cooldown. The request is deterministic per
window, so two checks of one window ask for the same retrain, and a launcher turns the second
ask into a no-op (an existing Job of that name, a recorded retrain).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from core.settings import DriftSettings


@dataclass(frozen=True)
class Verdict:
    start: bool
    reason: str


def should_retrain(
    window: int,
    drifted: set[int],
    last_retrain_at: float | None,
    now: float,
    settings: DriftSettings,
) -> Verdict:
    needed = set(range(window - settings.consecutive + 1, window + 1))
    if not needed <= drifted:
        return Verdict(False, f"drift in {len(needed & drifted)} of the last {len(needed)} windows")
    if last_retrain_at is not None and now - last_retrain_at < settings.cooldown_s:
        wait = settings.cooldown_s - (now - last_retrain_at)
        return Verdict(False, f"in cooldown: the last retrain started {wait:.0f} s too recently")
    return Verdict(True, f"drift in {len(needed)} consecutive window(s)")


@dataclass(frozen=True)
class RetrainRequest:
    window: int
    reason: str
    psi: Mapping[str, float]
    """PSI of every drifted column: what moved, travelling with the retrain."""

    @property
    def tags(self) -> dict[str, str]:
        """What the retrain run records in MLflow (CALHOUSING_DRIFT__RETRAIN_TAGS)."""
        return {
            "trigger": "drift",
            "trigger.reason": self.reason,
            "trigger.window": str(self.window),
            "trigger.psi": json.dumps({k: round(v, 4) for k, v in self.psi.items()}),
        }

    @property
    def env(self) -> dict[str, str]:
        return {
            "CALHOUSING_MONITORING__TRIGGER": "drift",
            "CALHOUSING_DRIFT__RETRAIN_TAGS": json.dumps(self.tags, sort_keys=True),
        }


@dataclass(frozen=True)
class Launched:
    name: str
    created: bool
    """False when it already existed (a second check of the same window)."""


class Launcher(Protocol):
    """Starts the training pipeline somewhere: a local process, a Kubernetes Job."""

    kind: str

    def active(self) -> str | None:
        """The name of a retrain still running, if any (at most one runs at a time)."""
        ...

    def launch(self, request: RetrainRequest) -> Launched: ...
