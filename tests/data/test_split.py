"""The split: deterministic, disjoint, near the configured fractions, and frozen under growth."""

import numpy as np
import pandas as pd
import pytest

from core.settings import DataSettings, Settings
from training.prepare import split_frame


def _settings(**data: object) -> Settings:
    return Settings(data=DataSettings.model_validate(data))


def _keys(frame: pd.DataFrame) -> set[tuple[float, ...]]:
    return set(map(tuple, frame.to_numpy()))


def test_the_same_data_splits_the_same_way(real_frame: pd.DataFrame) -> None:
    first, second = split_frame(real_frame, _settings()), split_frame(real_frame, _settings())
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_splits_partition_the_rows(real_frame: pd.DataFrame) -> None:
    splits = split_frame(real_frame.drop_duplicates(), _settings())
    assert sum(len(f) for f in splits.values()) == len(real_frame.drop_duplicates())
    train, validation, holdout = (_keys(splits[n]) for n in ("train", "validation", "holdout"))
    assert not (train & validation or train & holdout or validation & holdout)


@pytest.mark.parametrize(("holdout", "validation"), [(0.2, 0.2), (0.1, 0.3)])
def test_split_sizes_follow_the_configured_fractions(
    real_frame: pd.DataFrame, holdout: float, validation: float
) -> None:
    settings = _settings(holdout_fraction=holdout, validation_fraction=validation)
    sizes = {
        name: len(f) / len(real_frame) for name, f in split_frame(real_frame, settings).items()
    }
    # 20,640 rows: a binomial share's standard deviation is below 0.0035.
    assert sizes["holdout"] == pytest.approx(holdout, abs=0.015)
    assert sizes["validation"] == pytest.approx(validation, abs=0.015)


def test_appending_rows_never_moves_an_old_row(real_frame: pd.DataFrame) -> None:
    old, new = real_frame.iloc[:15_000], real_frame.iloc[15_000:]
    before = split_frame(old, _settings())
    after = split_frame(pd.concat([old, new], ignore_index=True), _settings())
    for name in before:
        assert _keys(before[name]) <= _keys(after[name])


def test_identical_rows_land_in_the_same_split(real_frame: pd.DataFrame) -> None:
    twice = pd.concat([real_frame.head(500)] * 2, ignore_index=True)
    for frame in split_frame(twice, _settings()).values():
        assert len(frame) % 2 == 0
        assert (frame.value_counts() == 2).all()


def test_a_new_salt_redraws_the_holdout(real_frame: pd.DataFrame) -> None:
    one = split_frame(real_frame, _settings())["holdout"]
    other = split_frame(real_frame, _settings(split_salt="another"))["holdout"]
    overlap = len(_keys(one) & _keys(other)) / len(one)
    assert overlap == pytest.approx(0.2, abs=0.05)  # independent draws overlap by ~the fraction


def test_negative_zero_splits_like_zero(real_frame: pd.DataFrame) -> None:
    row = real_frame.head(1).copy()
    signed = row.copy()
    signed["HouseAge"] = -0.0
    row["HouseAge"] = 0.0
    both = pd.concat([row, signed], ignore_index=True)
    placed = [name for name, f in split_frame(both, _settings()).items() for _ in range(len(f))]
    assert len(set(placed)) == 1
    assert np.signbit(signed["HouseAge"].iloc[0])
