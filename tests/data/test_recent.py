"""The recent labelled rows a retrain learns from: only labelled rows of the last
`max_age_days`, newest first, at most `max_rows`; none when the log is off; a drift retrain with
too few stops; and prepare adds them to training while the reference holdout stays frozen.
On a real SQLite prediction log and the real data set."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import insert

from core.errors import CalhousingError
from core.features import FEATURE_NAMES, TARGET
from core.predstore import LABELS, PREDICTIONS, connect
from core.settings import (
    DataSettings,
    MonitoringSettings,
    PredlogSettings,
    RecentDataSettings,
    Settings,
)
from training.datasets import RECENT_HOLDOUT, load_split, read_manifest, split_path
from training.ingest import ingest
from training.prepare import prepare
from training.recent import recent

NOW = 1_800_000_000.0
DAY = 86_400.0


def _settings(tmp_path: Path, source: Path, **recent_options: float) -> Settings:
    options = RecentDataSettings(path=tmp_path / "recent.csv", **recent_options)
    data = DataSettings(
        source=str(source), raw_path=tmp_path / "raw.csv", prepared_dir=tmp_path / "prepared",
        recent=options,
    )  # fmt: skip
    return Settings(data=data, predlog=PredlogSettings(url=f"sqlite:///{tmp_path / 'log.db'}"))


def _log(
    settings: Settings, frame: pd.DataFrame, ages_days: Sequence[float], labelled: Sequence[int]
) -> None:
    """Serve each row `age` days before NOW; label those marked, with their true value."""
    rows = frame.to_dict("records")
    with connect(str(settings.predlog.url)).begin() as connection:
        connection.execute(insert(PREDICTIONS), [
            {"ts": NOW - age * DAY, "request_id": f"r{i}", "row": 0, "model_name": "m",
             "model_version": "1", "prediction": 1.0, **{n: row[n] for n in FEATURE_NAMES}}
            for i, (row, age) in enumerate(zip(rows, ages_days, strict=True))
        ])  # fmt: skip
        labels = [
            {"request_id": f"r{i}", "row": 0, "value": row[TARGET.name], "ts": NOW}
            for i, (row, keep) in enumerate(zip(rows, labelled, strict=True)) if keep
        ]  # fmt: skip
        connection.execute(insert(LABELS), labels)


def test_only_labelled_rows_of_the_window_are_kept_newest_first(
    tmp_path: Path, california_csv: Path
) -> None:
    settings = _settings(tmp_path, california_csv, max_age_days=10, max_rows=3)
    frame = pd.read_csv(california_csv).head(6)
    _log(settings, frame, ages_days=[1, 2, 3, 4, 20, 0.5], labelled=[1, 1, 0, 1, 1, 1])

    summary = recent(settings, now=NOW)

    written = pd.read_csv(settings.data.recent.path)
    # Row 5 (newest), 0, 1; row 2 has no label, row 4 is too old, row 3 is past max_rows.
    expected = frame.iloc[[5, 0, 1]][[*FEATURE_NAMES, TARGET.name]].reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    assert summary.startswith("recent: 3 labelled row(s) since")


def test_a_drift_retrain_with_too_few_labelled_rows_trains_nothing(
    tmp_path: Path, california_csv: Path
) -> None:
    settings = _settings(tmp_path, california_csv, min_rows=5).model_copy(
        update={"monitoring": MonitoringSettings(trigger="drift")}
    )
    _log(settings, pd.read_csv(california_csv).head(4), [1, 1, 1, 1], [1, 1, 1, 0])

    with pytest.raises(
        CalhousingError, match=r"3 labelled row\(s\) .* fewer than .*min_rows \(5\)"
    ):
        recent(settings, now=NOW)
    assert not settings.data.recent.path.exists()


def test_with_the_prediction_log_off_the_snapshot_is_empty(
    tmp_path: Path, california_csv: Path
) -> None:
    settings = _settings(tmp_path, california_csv).model_copy(
        update={"predlog": PredlogSettings(url=None)}
    )
    assert recent(settings, now=NOW).startswith("recent: 0 labelled row(s)")
    assert pd.read_csv(settings.data.recent.path).empty


def test_a_prediction_log_that_cannot_be_read_fails_clearly(
    tmp_path: Path, california_csv: Path
) -> None:
    (tmp_path / "not-a-db").mkdir()
    settings = _settings(tmp_path, california_csv).model_copy(
        update={"predlog": PredlogSettings(url=f"sqlite:///{tmp_path / 'not-a-db'}")}
    )
    with pytest.raises(CalhousingError, match="the prediction log cannot be read"):
        recent(settings, now=NOW)


def test_prepare_trains_on_recent_rows_and_keeps_the_reference_holdout_frozen(
    tmp_path: Path, california_csv: Path
) -> None:
    settings = _settings(tmp_path, california_csv, max_rows=2000)
    ingest(settings)
    recent(settings, now=NOW)  # nothing labelled yet
    prepare(settings)
    before = load_split(settings.data.prepared_dir, "holdout")
    assert not split_path(settings.data.prepared_dir, RECENT_HOLDOUT).exists()
    shifted = pd.read_csv(california_csv).sample(1000, random_state=1)
    shifted[TARGET.name] *= 1.25  # prices up 25%
    _log(settings, shifted, [1.0] * 1000, [True] * 1000)

    recent(settings, now=NOW)
    summary = prepare(settings)

    manifest = read_manifest(settings.data.prepared_dir)
    after = load_split(settings.data.prepared_dir, "holdout")
    np.testing.assert_array_equal(after.x, before.x)
    held = manifest.rows[RECENT_HOLDOUT]
    assert 200 < held < 400  # 30% of 1000, by hash
    assert manifest.rows["train"] + manifest.rows["validation"] >= 16_000 + (1000 - held) * 0.9
    assert manifest.recent_version and manifest.recent_version in summary
