"""Drift and the quality gate on the real data: a sample of the reference is quiet; known
shifts in chosen features flag exactly those; broken data fails the gate by name."""

import numpy as np
import pytest

from core.features import FEATURE_NAMES
from core.profile import FloatArray, ReferenceProfile, build_profile, with_prediction
from core.settings import DriftSettings
from monitoring import quality
from monitoring.check import RetrainAttempt
from monitoring.drift import compare, ks_on_bins, psi

SETTINGS = DriftSettings()
MEDINC, HOUSE_AGE, LATITUDE = (FEATURE_NAMES.index(n) for n in ("MedInc", "HouseAge", "Latitude"))


@pytest.fixture(scope="module")
def profile(california_xy: tuple[FloatArray, FloatArray]) -> ReferenceProfile:
    x, y = california_xy
    half = np.random.default_rng(0).permutation(len(x))[: len(x) // 2]
    return with_prediction(build_profile(x[half], FEATURE_NAMES, 10), y[half], 10)


def _window(
    california_xy: tuple[FloatArray, FloatArray], seed: int, rows: int = 1000
) -> tuple[FloatArray, FloatArray]:
    x, y = california_xy
    pick = np.random.default_rng(seed).choice(len(x), rows, replace=False)
    return x[pick].copy(), y[pick].copy()


def _judge(profile: ReferenceProfile, x: FloatArray, y: FloatArray) -> list[str]:
    return compare(profile, x, y, SETTINGS.psi_threshold, SETTINGS.ks_alpha).drifted_features


@pytest.mark.parametrize("seed", range(5))
def test_traffic_sampled_from_the_reference_does_not_drift(
    california_xy: tuple[FloatArray, FloatArray], profile: ReferenceProfile, seed: int
) -> None:
    x, y = _window(california_xy, seed, rows=300)
    result = compare(profile, x, y, SETTINGS.psi_threshold, SETTINGS.ks_alpha)
    assert not result.drifted, result.scores()
    assert quality.check(x, profile, SETTINGS).ok


def test_known_shifts_flag_exactly_the_shifted_features(
    california_xy: tuple[FloatArray, FloatArray], profile: ReferenceProfile
) -> None:
    x, y = _window(california_xy, 7)
    x[:, MEDINC] *= 1.8  # incomes up 80%
    x[:, HOUSE_AGE] = np.minimum(x[:, HOUSE_AGE] + 15, 52)  # an older housing stock
    assert _judge(profile, x, y) == ["MedInc", "HouseAge"]
    assert quality.check(x, profile, SETTINGS).ok  # a real shift, not broken data


def test_a_regional_income_shift_flags_income_only(
    california_xy: tuple[FloatArray, FloatArray], profile: ReferenceProfile
) -> None:
    x, y = _window(california_xy, 8)
    south = x[:, LATITUDE] < 34.5
    x[south, MEDINC] *= 2.0
    assert _judge(profile, x, y) == ["MedInc"]


def test_a_small_psi_is_not_drift_even_when_ks_is_certain() -> None:
    reference = np.full(10, 0.1)
    live = np.array([0.12, 0.12, 0.11, 0.11, 0.1, 0.1, 0.09, 0.09, 0.08, 0.08])
    assert psi(reference, live) < SETTINGS.psi_threshold
    assert ks_on_bins(reference, live, 10_000, 100_000)[1] < SETTINGS.ks_alpha


def test_an_empty_live_bin_gives_a_large_finite_psi() -> None:
    score = psi(np.full(4, 0.25), np.array([1.0, 0.0, 0.0, 0.0]))
    assert np.isfinite(score) and score > 2


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        ("nulls", "MedInc: 10.0% missing"),
        ("unit", "MedInc: median"),
        ("out_of_range", "Population: 20.0% outside"),
    ],
)
def test_broken_data_fails_the_quality_gate_by_name(
    california_xy: tuple[FloatArray, FloatArray],
    profile: ReferenceProfile,
    breakage: str,
    problem: str,
) -> None:
    x, _ = _window(california_xy, 9)
    if breakage == "nulls":
        x[:100, MEDINC] = np.nan
    elif breakage == "unit":
        x[:, MEDINC] /= 10  # $100k instead of $10k
    else:
        x[:200, FEATURE_NAMES.index("Population")] = 1e6
    report = quality.check(x, profile, SETTINGS)
    assert not report.ok
    assert len(report.problems) == 1 and report.problems[0].startswith(problem), report.problems


def test_a_retrain_attempt_reads_as_one_line() -> None:
    started = RetrainAttempt(True, "drift in 2 consecutive window(s)", "retrain-7", "kubernetes")
    held = RetrainAttempt(False, "cooldown: 3600 s left")

    assert started.describe() == (
        "started retrain-7 (kubernetes): drift in 2 consecutive window(s)"
    )
    assert held.describe() == "not started: cooldown: 3600 s left"
