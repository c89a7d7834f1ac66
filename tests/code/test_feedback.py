"""Feedback labels: every bad row refused and counted by reason, only good labels for served,
unlabelled rows stored (monitoring.feedback, monitoring.store on a real SQLite store, and the
CLI on a file)."""

from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from calhousing.cli import app
from core.features import FEATURE_NAMES
from core.predstore import PREDICTIONS, connect
from monitoring.feedback import Label, against_store, parse
from monitoring.store import add_labels, known_keys


def _row(request_id: str, row: str, value: str) -> dict[str, str]:
    return {"request_id": request_id, "row": row, "value": value}


def test_each_kind_of_bad_row_is_refused_and_counted_by_its_reason() -> None:
    checked = parse([
        _row("a", "0", "2.5"), _row("a", "0", "2.6"), _row("b", "0", "abc"), _row("c", "0", "nan"),
        _row("d", "0", "-1"), _row("e", "0", "11"), _row("", "0", "1"), _row("f", "x", "1"),
    ])  # fmt: skip

    assert checked.accepted == [Label("a", 0, 2.5)]
    assert dict(checked.refused) == {
        "duplicate in the file": 1,
        "not a number": 2,
        "outside [0, 10]": 2,
        "without a request id and row number": 2,
    }


def test_only_labels_of_served_rows_not_labelled_before_pass_the_store_check() -> None:
    parsed = parse([_row("a", "0", "1"), _row("a", "1", "1"), _row("b", "0", "1")])

    checked = against_store(parsed, served={("a", 0), ("b", 0)}, labelled={("b", 0)})

    assert checked.accepted == [Label("a", 0, 1.0)]
    assert dict(checked.refused) == {"for no served request": 1, "labelled before": 1}
    assert checked.summary(1) == (
        "feedback: 1 label(s) stored; 2 refused: 1 for no served request, 1 labelled before"
    )


def _store_with(url: str, *keys: tuple[str, int]) -> None:
    features = dict.fromkeys(FEATURE_NAMES, 1.0)
    with connect(url).begin() as connection:
        connection.execute(insert(PREDICTIONS), [
            {"ts": 1.0, "request_id": r, "row": i, "model_name": "m", "model_version": "1",
             "prediction": 2.0, **features} for r, i in keys
        ])  # fmt: skip


def test_the_store_knows_served_and_labelled_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _store_with(url, ("a", 0), ("a", 1), ("b", 0))
    engine = connect(url)
    add_labels(engine, [Label("a", 1, 2.0)], now=5.0)

    assert known_keys(engine, {"a", "z"}) == ({("a", 0), ("a", 1)}, {("a", 1)})


def test_the_feedback_command_stores_the_good_labels_and_reports_the_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _store_with(url, ("a", 0), ("b", 0))
    monkeypatch.setenv("CALHOUSING_PREDLOG__URL", url)
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,row,value\na,0,2.5\nb,0,oops\nz,0,1.0\n")
    params = ["--params", str(tmp_path / "none.yaml")]

    first = CliRunner().invoke(app, [*params, "feedback", str(labels)])
    again = CliRunner().invoke(app, [*params, "feedback", str(labels)])

    assert first.exit_code == 0, first.output
    assert "1 label(s) stored; 2 refused: 1 for no served request, 1 not a number" in first.output
    assert "v1: realized RMSE 0.5000 on 1 labelled row(s)" in first.output
    assert (
        "0 label(s) stored; 3 refused: 1 for no served request, 1 labelled before" in again.output
    )


def test_a_labels_file_without_the_columns_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALHOUSING_PREDLOG__URL", f"sqlite:///{tmp_path / 'p.db'}")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\na,2.5\n")

    result = CliRunner().invoke(
        app, ["--params", str(tmp_path / "x.yaml"), "feedback", str(labels)]
    )

    assert result.exit_code == 1
    assert "no column request_id, row, value in its header" in result.output
