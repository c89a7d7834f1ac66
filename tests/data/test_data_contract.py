"""The data contract on the real data set and on each kind of corruption."""

import re

import numpy as np
import pandas as pd
import pytest

from core.errors import DataContractError
from core.features import FEATURE_NAMES, TARGET
from training.contract import COLUMNS, validate

MIN_ROWS = 1_000


def test_the_real_data_passes_in_canonical_order_as_float64(real_frame: pd.DataFrame) -> None:
    shuffled = real_frame[list(reversed(real_frame.columns))]
    valid = validate(shuffled, MIN_ROWS)
    assert tuple(valid.columns) == (*FEATURE_NAMES, TARGET.name)
    assert (valid.dtypes == np.float64).all()
    assert len(valid) == 20_640


def _broken(real_frame: pd.DataFrame, column: str, rows: list[int], value: object) -> pd.DataFrame:
    frame = real_frame.copy()
    if not isinstance(value, float):
        frame[column] = frame[column].astype(object)
    frame.loc[rows, column] = value  # type: ignore[call-overload]
    return frame


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("MedInc", np.nan, "has nulls"),
        ("HouseAge", "forty", "is not numeric"),
        ("Latitude", 51.5, "has values outside [32.0, 42.5]"),
        ("Population", -3.0, "has values outside [0.0, 100000.0]"),
        (TARGET.name, np.inf, "has values outside [0.0, 10.0]"),
    ],
)
def test_a_bad_value_is_named_by_column_count_and_first_rows(
    real_frame: pd.DataFrame, column: str, value: object, kind: str
) -> None:
    rows = [7, 3, 12_000]
    with pytest.raises(DataContractError) as caught:
        validate(_broken(real_frame, column, rows, value), MIN_ROWS)
    assert f"column {column!r} {kind}: 3 row(s), first [3, 7, 12000]" in str(caught.value)


def test_a_missing_column_is_named(real_frame: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match=re.escape("missing column(s) ['AveOccup']")):
        validate(real_frame.drop(columns="AveOccup"), MIN_ROWS)


def test_an_unknown_column_is_named(real_frame: pd.DataFrame) -> None:
    extra = real_frame.assign(ocean_proximity=1.0)
    with pytest.raises(DataContractError, match=re.escape("unknown column(s) ['ocean_proximity']")):
        validate(extra, MIN_ROWS)


def test_too_few_rows_are_refused(real_frame: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match="999 rows, fewer than the minimum 1000"):
        validate(real_frame.head(999), MIN_ROWS)


def test_every_violation_is_reported_at_once(real_frame: pd.DataFrame) -> None:
    frame = _broken(real_frame, "MedInc", [0], np.nan).drop(columns="Longitude").head(10)
    with pytest.raises(DataContractError) as caught:
        validate(frame, MIN_ROWS)
    for part in ("missing column(s) ['Longitude']", "'MedInc' has nulls", "10 rows, fewer"):
        assert part in str(caught.value)


def test_the_contract_covers_exactly_the_features_and_the_target() -> None:
    assert set(COLUMNS) == {*FEATURE_NAMES, TARGET.name}
    assert len(COLUMNS) == 9
