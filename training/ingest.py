"""Ingest: read the raw data from its source, enforce the contract, write it with provenance.

The written CSV is DVC's output of this stage, so its md5 is both DVC's hash and the data
version every MLflow run is tagged with.
"""

import io
from pathlib import Path

import httpx
import pandas as pd

from core.errors import CalhousingError, DataContractError
from core.features import TARGET
from core.settings import Settings
from training.contract import validate
from training.datasets import Provenance, md5_of, provenance_path

DOWNLOAD_TIMEOUT_S = 60.0


def _from_sklearn() -> pd.DataFrame:
    from sklearn.datasets import fetch_california_housing

    try:
        bunch = fetch_california_housing(as_frame=True)
    except OSError as err:  # urllib's URLError is an OSError
        raise CalhousingError(f"scikit-learn could not fetch California Housing: {err}") from err
    frame: pd.DataFrame = bunch.frame
    return frame.rename(columns={"MedHouseVal": TARGET.name})


def _from_url(url: str) -> pd.DataFrame:
    try:
        response = httpx.get(url, timeout=DOWNLOAD_TIMEOUT_S, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as err:
        raise CalhousingError(f"could not download {url}: {err}") from err
    return pd.read_csv(io.BytesIO(response.content))


def _from_path(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CalhousingError(f"data source {path} is not a file")
    return pd.read_csv(path)


def read_source(source: str) -> pd.DataFrame:
    """`sklearn`, an http(s) URL or a local CSV path."""
    if source == "sklearn":
        return _from_sklearn()
    try:
        if source.startswith(("http://", "https://")):
            return _from_url(source)
        return _from_path(Path(source))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataContractError(f"{source} is not a readable CSV: {err}") from err


def write_raw(frame: pd.DataFrame, raw_path: Path, source: str) -> Provenance:
    """Write through a temporary file so a crash never leaves half a data set behind."""
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    partial = raw_path.with_suffix(".partial")
    frame.to_csv(partial, index=False)
    partial.replace(raw_path)
    provenance = Provenance(source=source, md5=md5_of(raw_path), rows=len(frame))
    provenance_path(raw_path).write_text(provenance.model_dump_json(indent=2) + "\n")
    return provenance


def ingest(settings: Settings) -> str:
    data = settings.data
    frame = validate(read_source(data.source), data.min_rows)
    provenance = write_raw(frame, data.raw_path, data.source)
    return (
        f"ingest: {provenance.rows} rows from {data.source} -> {data.raw_path} "
        f"(md5 {provenance.md5})"
    )
