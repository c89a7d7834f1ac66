"""The promotion bar as pure functions: a paired bootstrap interval of the RMSE gain that must
exclude the minimum improvement, and a single-row latency budget."""

import numpy as np

from core.settings import RegistrySettings
from training.policy import Interval, Verdict, gate, paired_bootstrap

REGISTRY = RegistrySettings(latency_budget_ms=10.0)
BETTER = Verdict(True, "better")


def _errors(seed: int, rows: int = 4000) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.5, rows) ** 2


def test_a_real_gain_gives_an_interval_above_zero() -> None:
    champion = _errors(0)
    interval = paired_bootstrap(champion, champion * 0.8, 1000, 0.95, seed=1)
    assert 0 < interval.low < interval.gain < interval.high
    assert gate(BETTER, interval, 1.0, REGISTRY).promote


def test_a_gain_within_the_noise_is_not_promoted() -> None:
    champion = _errors(0)
    noisy = champion * np.random.default_rng(2).uniform(0.9, 1.1, len(champion)) * 0.999
    interval = paired_bootstrap(champion, noisy, 1000, 0.95, seed=1)
    assert interval.low < 0 < interval.high
    verdict = gate(BETTER, interval, 1.0, REGISTRY)
    assert not verdict.promote and verdict.reason.startswith("not significantly better")


def test_pairing_sees_a_small_consistent_gain_that_unpaired_noise_would_hide() -> None:
    champion = _errors(0)
    interval = paired_bootstrap(champion, champion * 0.99, 1000, 0.95, seed=1)
    assert interval.low > 0


def test_the_minimum_improvement_raises_the_bar() -> None:
    interval = Interval(gain=0.02, low=0.01, high=0.03, confidence=0.95)
    assert gate(BETTER, interval, 1.0, REGISTRY).promote
    strict = RegistrySettings(min_improvement=0.015, latency_budget_ms=10.0)
    assert not gate(BETTER, interval, 1.0, strict).promote


def test_a_slow_challenger_is_rejected_even_when_better() -> None:
    interval = Interval(gain=0.1, low=0.05, high=0.15, confidence=0.95)
    verdict = gate(BETTER, interval, 12.5, REGISTRY)
    assert not verdict.promote and verdict.reason == "too slow: single-row predict 12.50 ms > 10 ms"


def test_a_first_model_needs_only_the_latency_budget() -> None:
    assert gate(BETTER, None, 1.0, REGISTRY).promote
    assert not gate(Verdict(False, "worse"), None, 1.0, REGISTRY).promote


def test_a_recent_verdict_is_refused_when_the_reference_regresses_beyond_the_tolerance() -> None:
    from training.policy import Verdict, within_tolerance

    better = Verdict(True, "better: recent holdout RMSE 0.50 vs champion v1 0.70")

    refused = within_tolerance(better, challenger_rmse=0.47, champion_rmse=0.44, tolerance=0.02)
    kept = within_tolerance(better, challenger_rmse=0.45, champion_rmse=0.44, tolerance=0.02)

    assert not refused.promote and refused.reason.startswith("regresses on the reference")
    assert kept.promote and "(tolerance 0.02)" in kept.reason
    assert within_tolerance(Verdict(False, "no"), 0.9, 0.1, 0.0) == Verdict(False, "no")
