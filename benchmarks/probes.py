"""The costs that are not a server under load: the model's own predict time (the ceiling every
server is measured against), the drift check on synthetic windows, the pipeline's wall time,
and the machine the figures came from."""

import itertools
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import pandas as pd
from threadpoolctl import threadpool_limits

from core.features import FEATURE_NAMES
from inference import booster

Matrix = npt.NDArray[np.float64]


def holdout_rows(prepared: Path) -> Matrix:
    """The frozen holdout's feature rows: real inputs for every request body."""
    frame = pd.read_parquet(prepared / "holdout.parquet", columns=list(FEATURE_NAMES))
    return frame.to_numpy(dtype=np.float64)


@contextmanager
def pinned(cpus: str | None) -> Iterator[None]:
    """Run this process on `cpus` (e.g. "1") for the block, as the servers are."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _median_s(call: Callable[[], object], budget_s: float, min_repeats: int = 5) -> float:
    call()  # warm caches
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < min_repeats or time.perf_counter() < deadline:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _cycling(predict: Callable[[Matrix], object], matrix: Matrix, n: int) -> Callable[[], object]:
    """`predict` on the next n rows at each call: served traffic brings new rows, and the same
    row again and again would keep its part of the predictor's tables in cache (14 us a row
    against 20 us for fresh rows)."""
    batches = [matrix[i : i + n] for i in range(0, max(len(matrix) - n, 0) + 1, n)]
    turn = itertools.cycle(batches)
    return lambda: predict(next(turn))


def ceilings(
    model_path: Path, matrix: Matrix, sizes: list[int], cpus: str | None
) -> tuple[dict[int, float], dict[int, float]]:
    """Median seconds of scikit-learn's `predict` and of the predictor our runtime serves
    (inference.booster), per batch size: in-process, one OpenMP thread, on the servers' CPU."""
    estimator: Any = joblib.load(model_path)
    served, _ = booster.compile_estimator(estimator)
    with pinned(cpus), threadpool_limits(limits=1):
        own = {n: _median_s(_cycling(estimator.predict, matrix, n), 1.0) for n in sizes}
        ours = {n: _median_s(_cycling(served.predict, matrix, n), 1.0) for n in sizes}
    return own, ours


def drift_times(matrix: Matrix, profile_path: Path, sizes: list[int]) -> dict[int, float] | None:
    """Seconds of the drift check's pure part (quality gate + drift comparison) on a window of
    n synthetic logged rows; None if the drift module is not there."""
    try:
        from monitoring import drift, quality
    except ImportError:
        return None
    from core.profile import load_profile, with_prediction
    from core.settings import DriftSettings

    rng, settings = np.random.default_rng(0), DriftSettings()
    predictions_ref = rng.gamma(4.0, 0.5, len(matrix))
    profile = load_profile(profile_path)
    if profile.prediction is None:
        profile = with_prediction(profile, predictions_ref, len(profile.features[0].edges) + 1)
    times = {}
    for n in sizes:
        rows = matrix[rng.integers(0, len(matrix), n)] * rng.normal(1.0, 0.02, (n, 1))
        predictions = rng.gamma(4.0, 0.5, n)

        def check(rows: Matrix = rows, predictions: Matrix = predictions) -> None:
            quality.check(rows, profile, settings)
            drift.compare(profile, rows, predictions, settings.psi_threshold, settings.ks_alpha)

        times[n] = _median_s(check, 0.0, min_repeats=3)
    return times


def pipeline_seconds(repo: Path) -> float:
    """Wall time of the whole DVC pipeline, forced (it trains, evaluates and registers)."""
    start = time.perf_counter()
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "repro", "--force"], cwd=repo, check=True, capture_output=True)
    return time.perf_counter() - start


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(int(memory) / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_1m": os.getloadavg()[0],
    }
