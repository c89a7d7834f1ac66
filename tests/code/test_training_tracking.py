"""An unreachable tracking server fails fast with a message naming it."""

import time

import pytest

from core.errors import CalhousingError
from core.settings import MlflowSettings
from tests.services import free_port
from training.datasets import Manifest
from training.tracking import connect, run_tags


def test_an_unreachable_mlflow_is_named_within_seconds() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(CalhousingError, match=f"MLflow at {uri} unreachable"):
        connect(MlflowSettings(tracking_uri=uri))
    assert time.monotonic() - started < 10


def test_runs_are_tagged_with_the_data_version_and_size() -> None:
    manifest = Manifest(
        data_version="abc", source="here.csv", rows={"train": 6, "holdout": 2},
        holdout_fraction=0.2, validation_fraction=0.2, split_salt="s",
    )  # fmt: skip
    tags = run_tags("linear", manifest)
    assert tags["data.version"] == "abc"
    assert tags["data.rows"] == "8"
    assert tags["family"] == "linear"
