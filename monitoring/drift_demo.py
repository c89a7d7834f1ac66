"""`make drift-demo`: after `make demo`, close the loop on the local stack.

Sends traffic whose incomes doubled in Southern California to the local server, waits for the
prediction log to write it, runs the drift check (which retrains in a local process once the
window has drifted), prints the promotion decision and, when the alias moved, waits for the
server to follow it (serve.follow_alias_s) before asking which version answers now.
"""

import json
import sys
import time

import httpx
import numpy as np
import pandas as pd

from core.errors import CalhousingError
from core.features import FEATURE_NAMES
from core.settings import Settings, load_settings
from monitoring.drift_job import production_version, run

ROWS, BATCH = 600, 20
SOUTH = 34.5
"""Latitude below which incomes are doubled."""


def drifted_rows(settings: Settings, seed: int = 0) -> np.ndarray:
    frame = pd.read_csv(settings.data.raw_path)
    rows = frame[list(FEATURE_NAMES)].sample(ROWS, random_state=seed).to_numpy(np.float64)
    south = rows[:, FEATURE_NAMES.index("Latitude")] < SOUTH
    rows[south, FEATURE_NAMES.index("MedInc")] *= 2.0
    return rows


def send(settings: Settings, rows: np.ndarray) -> str:
    """POST the rows in small V2 batches; the version that answered last."""
    serve = settings.serve
    url = f"http://{serve.host}:{serve.http_port}/v2/models/{settings.registry.model_name}/infer"
    version = ""
    with httpx.Client(timeout=30) as client:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            inputs = [
                {"name": n, "shape": [len(batch)], "datatype": "FP64", "data": batch[:, i].tolist()}
                for i, n in enumerate(FEATURE_NAMES)
            ]
            answer = client.post(url, json={"inputs": inputs})
            answer.raise_for_status()
            version = str(answer.json()["model_version"])
    return version


def serving_after_follow(settings: Settings, before: str) -> str:
    """The version answering once the server has had time to follow the alias."""
    production = production_version(settings)
    rows = drifted_rows(settings, seed=1)[:BATCH]
    deadline = time.monotonic() + 2 * settings.serve.follow_alias_s + 60
    while (served := send(settings, rows)) != production and time.monotonic() < deadline:
        time.sleep(1)
    moved = f"followed the alias from v{before}" if served != before else "the alias did not move"
    return f"serving now: v{served} ({moved})"


def main() -> int:
    settings = load_settings()
    before = send(settings, drifted_rows(settings))
    print(f"drift-demo: sent {ROWS} rows (incomes x2 south of {SOUTH}) to v{before}")
    time.sleep(settings.predlog.flush_interval_s * 3)  # the log writes off the request path
    text, outcome = run(settings)
    print(text)
    decision = settings.train.artifacts_dir / "decision.json"
    if outcome == 3 and decision.exists():
        record = json.loads(decision.read_text())
        print(f"decision: v{record['version']} {record['decision']}: {record['reason']}")
    print(serving_after_follow(settings, before))
    return int(outcome)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CalhousingError as err:
        print(f"error: drift-demo: {err}", file=sys.stderr)
        sys.exit(1)
