"""Recent: the labelled served rows a retrain learns from, as a data snapshot of their own.

The reference data set stays what ingest read. The rows the model served and users then
labelled (`calhousing feedback`, joined to the prediction log by request id) are the population
it serves now: this stage copies the newest of them (`data.recent`: how many, how old) into a
CSV. That file is a DVC output, so each snapshot is a data version, and its md5 is recorded on
every run beside the raw data's. Unlabelled rows never enter it: the join needs a label.
"""

import time
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from core.errors import CalhousingError
from core.features import FEATURE_NAMES, TARGET
from core.predstore import connect, labelled_rows
from core.settings import Settings
from training.contract import validate
from training.ingest import write_raw

SOURCE = "the prediction log's labelled rows"


def read_labelled(settings: Settings, since: float) -> pd.DataFrame:
    """The labelled rows predicted since `since`, newest first; none when the log is off."""
    columns = [*FEATURE_NAMES, TARGET.name]
    if settings.predlog.url is None:
        return pd.DataFrame(columns=columns, dtype="float64")
    try:
        rows = labelled_rows(connect(settings.predlog.url), since, settings.data.recent.max_rows)
    except SQLAlchemyError as err:  # down, or refusing: nothing is trained on a guess
        raise CalhousingError(f"recent: the prediction log cannot be read: {err}") from err
    return pd.DataFrame([row[:-1] for row in rows], columns=columns, dtype="float64")


def recent(settings: Settings, now: float | None = None) -> str:
    options = settings.data.recent
    since = (now if now is not None else time.time()) - options.max_age_days * 86_400
    frame = read_labelled(settings, since)
    day = datetime.fromtimestamp(since, UTC).date().isoformat()
    if settings.monitoring.trigger == "drift" and len(frame) < options.min_rows:
        raise CalhousingError(
            f"recent: {len(frame)} labelled row(s) since {day}, fewer than data.recent.min_rows "
            f"({options.min_rows}): a drift retrain needs labels of the population it serves "
            "now, so nothing is trained"
        )
    if len(frame):
        frame = validate(frame, min_rows=1)
    provenance = write_raw(frame, options.path, SOURCE)
    return (
        f"recent: {provenance.rows} labelled row(s) since {day} -> {options.path} "
        f"(md5 {provenance.md5})"
    )
