"""A throw-away copy of the repo's pipeline (git + DVC) wired to a real MLflow server, with
fast params, so the real `dvc repro` runs in well under a minute."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import MlflowServer

REPO = Path(__file__).resolve().parents[2]
PIPELINE_FILES = ("dvc.yaml", "params.yaml", ".dvcignore")
CODE_DIRS = ("core", "training")
# Its own model name and experiment: other tests share the session's MLflow server.
MODEL_NAME = "calhousing-pipeline-test"
EXPERIMENT = "pipeline-test"
FAST_TRAIN = {
    "random_forest": {"n_estimators": 10, "max_depth": 8, "min_samples_leaf": 5},
    "hist_gradient_boosting": {"max_iter": 30, "learning_rate": 0.1, "max_features": 1.0},
}


@dataclass(frozen=True)
class PipelineRepo:
    root: Path
    env: dict[str, str]
    mlflow: MlflowServer

    def run(self, *argv: str) -> str:
        done = subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def dvc(self, *args: str) -> str:
        return self.run("dvc", *args)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = json.loads(self.run("dvc", "status", "--json"))
        return status

    def stale_stages(self) -> set[str]:
        return set(self.status())

    @property
    def params(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load((self.root / "params.yaml").read_text())
        return loaded

    def set_params(self, section: str, **values: Any) -> None:
        params = self.params
        params[section] |= values
        (self.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def set_train(self, **train: Any) -> None:
        self.set_params("train", **train)

    def lock_md5(self, stage: str, path: str) -> str:
        lock = yaml.safe_load((self.root / "dvc.lock").read_text())
        outs = {out["path"]: out["md5"] for out in lock["stages"][stage]["outs"]}
        return str(outs[path])

    def record(self, name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.root / "artifacts" / name).read_text())
        return loaded


def _copy_pipeline(root: Path) -> None:
    for name in PIPELINE_FILES:
        shutil.copy2(REPO / name, root / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in CODE_DIRS:
        shutil.copytree(REPO / name, root / name, ignore=ignore)
    params = yaml.safe_load((root / "params.yaml").read_text())
    for family, fast in FAST_TRAIN.items():
        params["train"][family] |= fast
    params["registry"]["model_name"] = MODEL_NAME
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _environment(root: Path, mlflow: MlflowServer, csv: Path) -> dict[str, str]:
    return os.environ | {
        "CALHOUSING_DATA__SOURCE": str(csv),
        "CALHOUSING_MLFLOW__TRACKING_URI": mlflow.uri,
        "CALHOUSING_MLFLOW__EXPERIMENT": EXPERIMENT,
        "CALHOUSING_TRAIN__N_JOBS": "1",
        # The copied code, not the installed repo, is what the stages run.
        "PYTHONPATH": str(root),
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        # One OpenMP thread: spin-waiting threads on a busy shared machine cost 3x the time.
        "OMP_NUM_THREADS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }  # fmt: skip


@pytest.fixture(scope="module")
def pipeline_repo(
    tmp_path_factory: pytest.TempPathFactory, mlflow: MlflowServer, california_csv: Path
) -> Iterator[PipelineRepo]:
    root = tmp_path_factory.mktemp("pipeline") / "repo"
    root.mkdir()
    _copy_pipeline(root)
    repo = PipelineRepo(root, _environment(root, mlflow, california_csv), mlflow)
    repo.run("git", "init", "-q")
    repo.dvc("init", "-q")
    shutil.copy2(REPO / ".dvc" / "config", root / ".dvc" / "config")
    repo.run("git", "add", "-A")
    repo.run("git", "commit", "-qm", "pipeline under test")
    yield repo
