"""The benchmark suite runs end to end and writes its report (speed is not asserted here:
`make bench` measures it; a test on a shared machine could only flake)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.features import FEATURE_NAMES
from core.profile import build_profile, save_profile
from tests.integration.serving_fixtures import RegisteredModel
from tests.services import MlflowServer, child_env

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_a_quick_run_writes_the_table_the_json_and_the_plot(
    mlflow: MlflowServer, registered_model: RegisteredModel, tmp_path: Path
) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: `apt-get install -y wrk`")
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    rows = np.repeat(registered_model.rows, 20, axis=0)  # 1,280 real rows, enough for 1,000
    pd.DataFrame(rows, columns=list(FEATURE_NAMES)).to_parquet(prepared / "holdout.parquet")
    save_profile(build_profile(rows, FEATURE_NAMES, 10), prepared / "reference_profile.json")
    env = child_env(
        {
            "CALHOUSING_MLFLOW__TRACKING_URI": mlflow.uri,
            "CALHOUSING_REGISTRY__MODEL_NAME": registered_model.name,
            "CALHOUSING_DATA__PREPARED_DIR": str(prepared),
        }
    )
    out = tmp_path / "results"
    out.mkdir()
    # A previous report to be compared with: the fastapi cell at half the throughput.
    cell = {"contender": "fastapi", "protocol": "rest", "clients": 16, "rows": 1}
    earlier = {"settings": {"quick": True}, "results": [{**cell, "throughput_rps": 1.0}]}
    (out / "latest.json").write_text(json.dumps(earlier))
    argv = [sys.executable, "-m", "benchmarks", "--quick", "--only", "fastapi-rest"]
    done = subprocess.run(
        [*argv, "--out", str(out)],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "latest.json").read_text())
    (result,) = report["results"]
    assert (result["contender"], result["clients"], result["rows"]) == ("fastapi", 16, 1)
    assert result["requests"] > 0
    assert result["errors"] == 0
    assert set(report["ceilings_s"]) == {"1", "100", "1000"}
    (steady,) = report["open_loop"]
    assert (steady["contender"], steady["protocol"], steady["fraction"]) == ("fastapi", "rest", 0.5)
    assert steady["asked_rps"] == pytest.approx(result["throughput_rps"] / 2, rel=0.01)
    assert steady["requests"] > 0
    assert steady["errors"] == 0
    (change,) = report["previous"]["results"]
    assert change["cell"] == "fastapi-rest-16c-1r"
    assert change["throughput_rps"]["previous"] == 1.0
    assert change["throughput_rps"]["now"] == result["throughput_rps"]
    markdown = (out / "latest.md").read_text()
    assert "| fastapi | rest | 16 | 1 |" in markdown
    assert "| fastapi | rest | 50% |" in markdown
    assert (out / "latest.png").stat().st_size > 0
