"""`make drift-demo`: after `make demo`, close the loop on the local stack.

The scenario: south of latitude 34.5 incomes doubled and house prices rose 25%. The demo sends
that traffic to the local server, labels two thirds of it with its true (shifted) values, as
`calhousing feedback` would, runs the drift check (which retrains in a local process once the
window has drifted, on the reference data plus the labelled rows: a new data version), prints
the promotion decision and, when the alias moved, waits for the server to follow it
(serve.follow_alias_s), then prints the realized RMSE of each version on the labelled rows.
"""

import json
import sys
import time

import httpx
import numpy as np
import pandas as pd

from core.errors import CalhousingError
from core.features import FEATURE_NAMES, TARGET
from core.predstore import connect
from core.settings import Settings, load_settings
from monitoring.drift_job import production_version, run
from monitoring.feedback import Checked, Label, against_store
from monitoring.store import add_labels, known_keys, realized_rmse

ROWS, BATCH = 600, 20
SOUTH = 34.5
"""Latitude below which incomes are doubled and prices up 25%."""
LABELLED = 2 / 3
"""Share of the sent rows whose true value comes back as feedback."""


def drifted(settings: Settings, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the data set with the scenario applied, and their true values."""
    frame = pd.read_csv(settings.data.raw_path).sample(ROWS, random_state=seed)
    rows = frame[list(FEATURE_NAMES)].to_numpy(np.float64, copy=True)
    truth = frame[TARGET.name].to_numpy(np.float64, copy=True)
    south = rows[:, FEATURE_NAMES.index("Latitude")] < SOUTH
    rows[south, FEATURE_NAMES.index("MedInc")] *= 2.0
    truth[south] = np.minimum(truth[south] * 1.25, TARGET.maximum)
    return rows, truth


def drifted_rows(settings: Settings, seed: int = 0) -> np.ndarray:
    return drifted(settings, seed)[0]


def label(settings: Settings, prefix: str, truth: np.ndarray) -> str:
    """Feedback for the first LABELLED share of the batches sent under `prefix`."""
    engine = connect(str(settings.predlog.url))
    labels = [
        Label(f"{prefix}-{i // BATCH}", i % BATCH, float(value))
        for i, value in enumerate(truth[: int(len(truth) * LABELLED)])
    ]
    ids = {x.request_id for x in labels}
    checked = against_store(Checked(accepted=labels), *known_keys(engine, ids))
    return checked.summary(add_labels(engine, checked.accepted, time.time()))


def send(settings: Settings, rows: np.ndarray, prefix: str = "") -> str:
    """POST the rows in small V2 batches (request ids `<prefix>-<batch>` when a prefix is
    given); the version that answered last."""
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
            body: dict[str, object] = {"inputs": inputs}
            if prefix:
                body["id"] = f"{prefix}-{start // BATCH}"
            answer = client.post(url, json=body)
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
    rows, truth = drifted(settings)
    prefix = f"drift-demo-{int(time.time())}"
    before = send(settings, rows, prefix)
    print(f"drift-demo: sent {ROWS} rows (south of {SOUTH}: incomes x2, prices +25%) to v{before}")
    time.sleep(settings.predlog.flush_interval_s * 3)  # the log writes off the request path
    print(label(settings, prefix, truth))
    text, outcome = run(settings)
    print(text)
    print_decision(settings, int(outcome))
    print(serving_after_follow(settings, before))
    after_rows, after_truth = drifted(settings, seed=2)
    after = send(settings, after_rows, f"{prefix}-after")
    print(f"drift-demo: sent {ROWS} more rows of the same population to v{after}")
    time.sleep(settings.predlog.flush_interval_s * 3)
    print(label(settings, f"{prefix}-after", after_truth))
    for version, (rmse, count) in sorted(realized_rmse(connect(str(settings.predlog.url))).items()):
        print(f"  v{version}: realized RMSE {rmse:.4f} on {count} labelled row(s)")
    return int(outcome)


def print_decision(settings: Settings, outcome: int) -> None:
    """The retrain's decision and the data versions it was made on, when it ran."""
    decision = settings.train.artifacts_dir / "decision.json"
    if outcome != 3 or not decision.exists():
        return
    record = json.loads(decision.read_text())
    print(f"decision: v{record['version']} {record['decision']}: {record['reason']}")
    print(f"  data: reference md5 {record['data_version']}, recent md5 {record['recent_version']}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CalhousingError as err:
        print(f"error: drift-demo: {err}", file=sys.stderr)
        sys.exit(1)
