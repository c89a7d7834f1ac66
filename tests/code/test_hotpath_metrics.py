"""The per-row distributions count exactly the reference bins, whichever way a batch's bins
are found (one broadcast comparison for small batches, `searchsorted` for large ones)."""

import numpy as np
import pytest

from core.features import FEATURE_NAMES
from core.profile import bin_counts, build_profile
from inference.distributions import FOLD_ROWS, Distributions


@pytest.mark.parametrize("rows", [1, 2, 32, 33, 1000])
def test_bins_are_the_profiles_for_small_and_large_batches(rows: int) -> None:
    rng = np.random.default_rng(rows)
    profile = build_profile(rng.uniform(1, 10, size=(500, len(FEATURE_NAMES))), FEATURE_NAMES, 7)
    live = rng.uniform(0, 12, size=(rows, len(FEATURE_NAMES)))
    live[0, 0] = profile.feature(FEATURE_NAMES[0]).edges[2]  # on an edge: the bin above it
    distributions = Distributions(("m", "3"), profile)
    distributions.observe(live, np.full(rows, 1.0))
    family = next(f for f in distributions.families() if f.name == "calhousing_feature_bin")
    observed = {(s.labels["feature"], s.labels["bin"]): s.value for s in family.samples}
    for i, name in enumerate(FEATURE_NAMES):
        expected = bin_counts(live[:, i], profile.feature(name).edges)
        assert [observed[(name, f"{b:02d}")] for b in range(len(expected))] == expected.tolist()


def test_requests_queue_their_rows_and_every_row_is_counted_across_passes() -> None:
    rng = np.random.default_rng(0)
    profile = build_profile(rng.uniform(1, 10, size=(500, len(FEATURE_NAMES))), FEATURE_NAMES, 7)
    distributions = Distributions(("m", "3"), profile)
    live = rng.uniform(0, 12, size=(FOLD_ROWS + 10, len(FEATURE_NAMES)))
    for row in live:
        distributions.observe(row[None, :], np.array([1.0]))
        assert distributions.queued_rows < FOLD_ROWS  # bounded without any scrape
    assert distributions.queued_rows == 10

    families = {f.name: f for f in distributions.families()}
    counted = next(
        s for s in families["calhousing_predicted_value"].samples if s.name.endswith("_count")
    )
    assert counted.value == len(live)
    assert distributions.queued_rows == 0
