from pathlib import Path

import pytest
from typer.testing import CliRunner

from calhousing.cli import app


@pytest.mark.parametrize("command", [["feedback", "labels.csv"]])
def test_commands_that_read_the_prediction_log_refuse_clearly_when_it_is_off(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALHOUSING_PREDLOG__URL", "")

    result = CliRunner().invoke(app, ["--params", str(tmp_path / "none.yaml"), *command])

    assert result.exit_code == 1
    assert "the prediction log is off" in result.output


def test_secret_init_refuses_a_label_that_is_not_key_value() -> None:
    args = ["secret-init", "db", "--namespace", "ns", "--key", "password", "--label", "oops"]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 1
    assert "--label takes KEY=VALUE, not oops" in result.output
