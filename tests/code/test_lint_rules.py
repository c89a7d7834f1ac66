"""The project's own lint rules bite: ruff, with pyproject's configuration, refuses a module
that reads the environment anywhere but in the settings module."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READS_ENV = "import os\n\nTOKEN = os.environ.get('TOKEN')\nPORT = os.getenv('PORT')\n"


def _ruff(path: str, source: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", path, "-"]
    return subprocess.run(argv, input=source, cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "path",
    [
        "training/train.py",
        "inference/loader.py",
        "calhousing/cli/app.py",
        "core/settings/runtime.py",
    ],
)
def test_reading_the_environment_outside_settings_is_refused(path: str) -> None:
    done = _ruff(path, READS_ENV)

    assert done.returncode == 1
    assert done.stdout.count("TID251") == 2


def test_the_settings_module_may_read_the_environment() -> None:
    assert _ruff("core/settings/__init__.py", READS_ENV).returncode == 0
