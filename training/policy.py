"""The rules of the lifecycle, as pure functions: which candidate wins, which model serves
(a lower holdout RMSE, by a margin a paired bootstrap says is real, within a latency budget)."""

import math
from dataclasses import dataclass

import numpy as np

from core.errors import CalhousingError
from core.profile import FloatArray
from core.settings import Family, RegistrySettings
from training.records import Evaluated


def select_best(candidates: dict[Family, Evaluated]) -> Family:
    """The sane candidate with the lowest validation RMSE. The holdout is not looked at: it is
    kept for the champion comparison, so it stays an unbiased judge there."""
    sane = {family: c for family, c in candidates.items() if c.sane}
    if not sane:
        failed = {
            family: [k for k, ok in c.checks.items() if not ok] for family, c in candidates.items()
        }
        raise CalhousingError(f"no candidate passed the sanity checks: {failed}")
    return min(sane, key=lambda family: sane[family].validation.rmse)


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


def decide(
    challenger_rmse: float,
    champion_version: str | None,
    champion_rmse: float | None,
    holdout: str = "holdout",
) -> Verdict:
    """Promote when there is no champion, or the challenger's holdout RMSE is lower than the
    champion's (on the same holdout). By how much it must be lower is the `gate`'s question."""
    if not math.isfinite(challenger_rmse):
        return Verdict(False, f"challenger {holdout} RMSE is {challenger_rmse}")
    if champion_version is None or champion_rmse is None:
        return Verdict(True, "no champion yet")
    if not math.isfinite(champion_rmse):
        return Verdict(True, f"champion v{champion_version} scores {holdout} RMSE {champion_rmse}")
    versus = (
        f"{holdout} RMSE {challenger_rmse:.4f} vs champion v{champion_version} {champion_rmse:.4f}"
    )
    if challenger_rmse < champion_rmse:
        return Verdict(True, f"better: {versus}")
    return Verdict(False, f"not better: {versus}")


@dataclass(frozen=True)
class Interval:
    """Paired bootstrap interval of RMSE(champion) - RMSE(challenger): positive is a gain."""

    gain: float
    low: float
    high: float
    confidence: float


BOOTSTRAP_CHUNK = 200


def paired_bootstrap(
    champion_sq: FloatArray, challenger_sq: FloatArray, resamples: int, confidence: float, seed: int
) -> Interval:
    """Resample holdout rows (the same rows for both models: paired), recompute both RMSEs on
    each resample, and take the central `confidence` share of the differences."""
    rng = np.random.default_rng(seed)
    n, gains = len(champion_sq), []
    for start in range(0, resamples, BOOTSTRAP_CHUNK):
        rows = rng.integers(0, n, size=(min(BOOTSTRAP_CHUNK, resamples - start), n))
        gains.append(
            np.sqrt(champion_sq[rows].mean(axis=1)) - np.sqrt(challenger_sq[rows].mean(axis=1))
        )
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.concatenate(gains), [tail, 1 - tail])
    gain = float(np.sqrt(champion_sq.mean()) - np.sqrt(challenger_sq.mean()))
    return Interval(gain, float(low), float(high), confidence)


def gate(
    verdict: Verdict, interval: Interval | None, latency_ms: float, registry: RegistrySettings
) -> Verdict:
    """The promotion bar beyond a lower RMSE: a gain the holdout's luck cannot explain (the
    interval's low end above `min_improvement`), and the single-row latency budget."""
    if not verdict.promote:
        return verdict
    budget = registry.latency_budget_ms
    if latency_ms > budget:
        return Verdict(False, f"too slow: single-row predict {latency_ms:.2f} ms > {budget:g} ms")
    if interval is None:
        return verdict
    ci = (
        f"RMSE gain {interval.gain:+.4f}, {interval.confidence:.0%} interval "
        f"[{interval.low:+.4f}, {interval.high:+.4f}]"
    )
    if interval.low <= registry.min_improvement:
        return Verdict(
            False, f"not significantly better: {ci} does not exclude {registry.min_improvement:g}"
        )
    return Verdict(True, f"{verdict.reason}; {ci}")


def within_tolerance(
    verdict: Verdict, challenger_rmse: float, champion_rmse: float | None, tolerance: float
) -> Verdict:
    """After a verdict on the recent holdout: the challenger may not be worse than the champion
    on the frozen reference holdout by more than `tolerance` (RMSE)."""
    if not verdict.promote or champion_rmse is None:
        return verdict
    versus = f"reference holdout RMSE {challenger_rmse:.4f} vs {champion_rmse:.4f}"
    if challenger_rmse - champion_rmse > tolerance:
        return Verdict(
            False, f"regresses on the reference: {versus}, worse by more than {tolerance:g}"
        )
    return Verdict(True, f"{verdict.reason}; {versus} (tolerance {tolerance:g})")
