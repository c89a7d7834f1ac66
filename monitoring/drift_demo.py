"""`make drift-demo`: after `make demo`, close the loop on the local stack.

Sends traffic whose incomes doubled in Southern California to the local server, waits for the
prediction log to write it, runs the drift check (which retrains in a local process once the
window has drifted), prints the promotion decision, rolls serving out if the alias moved, and
asks the server which version answers now.
"""

import json
import sys
import time

import httpx
import numpy as np
import pandas as pd

from core.errors import CalhousingError
from core.features import FEATURE_NAMES
from core.predstore import connect
from core.settings import Settings, load_settings
from monitoring.drift_job import production_version, run
from monitoring.rollout import reconcile
from monitoring.store import last_served_version

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
    served = last_served_version(connect(str(settings.predlog.url)))
    print(reconcile(settings, production_version(settings), served))
    print(f"serving now: v{send(settings, drifted_rows(settings, seed=1)[:BATCH])}")
    return int(outcome)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CalhousingError as err:
        print(f"error: drift-demo: {err}", file=sys.stderr)
        sys.exit(1)
