"""Prepare: cut the raw data into train / validation / frozen holdout and profile training."""

import numpy as np
import pandas as pd

from core.features import FEATURE_NAMES
from core.profile import build_profile, save_profile
from core.settings import Settings
from training.contract import validate
from training.datasets import (
    MANIFEST_FILE,
    PROFILE_FILE,
    RECENT_HOLDOUT,
    SPLITS,
    Manifest,
    SplitName,
    read_provenance,
    split_path,
    to_split,
)
from training.split import assign_splits


def split_frame(frame: pd.DataFrame, settings: Settings) -> dict[SplitName, pd.DataFrame]:
    data = settings.data
    labels = assign_splits(
        frame.to_numpy(dtype=np.float64),
        data.split_salt,
        data.holdout_fraction,
        data.validation_fraction,
    )
    return {name: frame[labels == name].reset_index(drop=True) for name in SPLITS}


def with_recent(
    splits: dict[SplitName, pd.DataFrame], recent: pd.DataFrame, settings: Settings
) -> dict[SplitName, pd.DataFrame]:
    """The recent labelled rows split by their own hash (another salt, so the reference split
    is untouched): some join train and validation, `data.recent.holdout_fraction` is held out
    as the recent holdout; the frozen reference holdout stays what it was."""
    data = settings.data
    labels = assign_splits(
        recent.to_numpy(dtype=np.float64),
        f"{data.split_salt}:recent",
        data.recent.holdout_fraction,
        data.validation_fraction,
    )
    names: tuple[SplitName, ...] = ("train", "validation")
    joined = {
        name: pd.concat([splits[name], recent[labels == name]], ignore_index=True) for name in names
    }
    held = recent[labels == "holdout"].reset_index(drop=True)
    return {**splits, **joined, RECENT_HOLDOUT: held}


def read_recent(settings: Settings) -> tuple[pd.DataFrame, str]:
    """The recent snapshot and its md5; empty (and "") when there is none or it has no rows."""
    path = settings.data.recent.path
    if not path.exists():
        return pd.DataFrame(), ""
    frame = pd.read_csv(path)
    if frame.empty:
        return frame, ""
    return validate(frame, min_rows=1), read_provenance(path).md5


def prepare(settings: Settings) -> str:
    data = settings.data
    # Re-checked because the raw CSV may have been edited by hand since ingest.
    raw = validate(pd.read_csv(data.raw_path), data.min_rows)
    provenance = read_provenance(data.raw_path)
    splits = split_frame(raw, settings)
    recent, recent_version = read_recent(settings)
    if recent_version:
        splits = with_recent(splits, recent, settings)
    data.prepared_dir.mkdir(parents=True, exist_ok=True)
    split_path(data.prepared_dir, RECENT_HOLDOUT).unlink(missing_ok=True)
    for name, frame in splits.items():
        frame.to_parquet(split_path(data.prepared_dir, name), index=False)
    train = to_split(splits["train"])
    profile = build_profile(train.x, FEATURE_NAMES, data.profile_bins)
    save_profile(profile, data.prepared_dir / PROFILE_FILE)
    manifest = Manifest(
        data_version=provenance.md5,
        recent_version=recent_version,
        source=provenance.source,
        rows={name: len(frame) for name, frame in splits.items()},
        holdout_fraction=data.holdout_fraction,
        validation_fraction=data.validation_fraction,
        split_salt=data.split_salt,
    )
    (data.prepared_dir / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\n")
    counts = ", ".join(f"{name} {rows}" for name, rows in manifest.rows.items())
    versions = f"data version {provenance.md5}" + (
        f", recent {recent_version} ({len(recent)} labelled rows)" if recent_version else ""
    )
    return f"prepare: {counts} rows -> {data.prepared_dir} ({versions})"
