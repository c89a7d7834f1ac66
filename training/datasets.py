"""The on-disk layout the stages hand to each other: raw CSV + provenance, prepared splits +
manifest + reference profile. Writers and readers share these definitions, so they cannot drift.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from core.features import FEATURE_NAMES, TARGET
from core.profile import FloatArray
from training.records import Record

SplitName = Literal["train", "validation", "holdout", "recent_holdout"]
SPLITS: tuple[SplitName, ...] = ("train", "validation", "holdout")
RECENT_HOLDOUT: SplitName = "recent_holdout"
"""The held-out share of the recent labelled rows: the population served now."""
PROFILE_FILE = "reference_profile.json"
MANIFEST_FILE = "manifest.json"


class Provenance(Record):
    """Written beside the raw CSV: where it came from and its md5 (DVC's hash of it)."""

    source: str
    md5: str
    rows: int


class Manifest(Record):
    """Written beside the prepared splits: what they were cut from and how."""

    data_version: str
    source: str
    rows: dict[str, int]
    recent_version: str = ""
    """md5 of the recent labelled snapshot the splits include; empty when it had no rows."""
    holdout_fraction: float
    validation_fraction: float
    split_salt: str


@dataclass(frozen=True)
class Split:
    """Features (rows, 8) float64 in feature order, and the target."""

    x: FloatArray
    y: FloatArray

    @property
    def frame(self) -> pd.DataFrame:
        """Named float64 columns in feature order: what the MLflow signature declares."""
        return pd.DataFrame(self.x, columns=list(FEATURE_NAMES))


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def provenance_path(raw_path: Path) -> Path:
    return raw_path.with_suffix(".provenance.json")


def read_provenance(raw_path: Path) -> Provenance:
    return Provenance.model_validate_json(provenance_path(raw_path).read_text())


def read_manifest(prepared_dir: Path) -> Manifest:
    return Manifest.model_validate_json((prepared_dir / MANIFEST_FILE).read_text())


def split_path(prepared_dir: Path, name: SplitName) -> Path:
    return prepared_dir / f"{name}.parquet"


def to_split(frame: pd.DataFrame) -> Split:
    x = frame.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    return Split(x=x, y=frame[TARGET.name].to_numpy(dtype=np.float64))


def load_split(prepared_dir: Path, name: SplitName) -> Split:
    return to_split(pd.read_parquet(split_path(prepared_dir, name)))
