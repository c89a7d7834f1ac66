"""The data contract: the declared columns, numeric, complete, physically possible, enough rows.

Every violation is collected, so one run tells the user everything that is wrong, each naming
the column, how many rows break it and the first few row numbers (0-based, header excluded).
"""

from collections.abc import Iterator

import pandas as pd

from core.errors import DataContractError
from core.features import FEATURE_NAMES, FEATURES, TARGET, Feature

COLUMNS = (*FEATURE_NAMES, TARGET.name)
FIRST_ROWS = 5


def _rows(mask: "pd.Series[bool]") -> str:
    rows = [int(i) for i in mask.to_numpy().nonzero()[0][:FIRST_ROWS]]
    return f"{int(mask.sum())} row(s), first {rows}"


def _column_set(frame: pd.DataFrame) -> Iterator[str]:
    missing = [name for name in COLUMNS if name not in frame.columns]
    unknown = [str(name) for name in frame.columns if name not in COLUMNS]
    if missing:
        yield f"missing column(s) {missing}"
    if unknown:
        yield f"unknown column(s) {unknown}"


def _column(values: pd.Series, feature: Feature) -> Iterator[str]:
    name = feature.name
    numbers = pd.to_numeric(values, errors="coerce")
    if not pd.api.types.is_numeric_dtype(values):
        yield f"column {name!r} is not numeric: {_rows(numbers.isna() & values.notna())}"
    if values.isna().any():
        yield f"column {name!r} has nulls: {_rows(values.isna())}"
    outside = numbers.notna() & ~numbers.between(feature.minimum, feature.maximum)
    if outside.any():
        span = f"[{feature.minimum}, {feature.maximum}]"
        yield f"column {name!r} has values outside {span}: {_rows(outside)}"


def violations(frame: pd.DataFrame, min_rows: int) -> list[str]:
    found = list(_column_set(frame))
    for feature in (*FEATURES, TARGET):
        if feature.name in frame.columns:
            found += _column(frame[feature.name], feature)
    if len(frame) < min_rows:
        found.append(f"{len(frame)} rows, fewer than the minimum {min_rows}")
    return found


def validate(frame: pd.DataFrame, min_rows: int) -> pd.DataFrame:
    """The frame as float64 in canonical column order, or DataContractError listing every break."""
    found = violations(frame, min_rows)
    if found:
        raise DataContractError("data contract broken: " + "; ".join(found))
    return frame.loc[:, list(COLUMNS)].astype("float64").reset_index(drop=True)
