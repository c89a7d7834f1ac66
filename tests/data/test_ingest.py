"""Ingest from a local path and over real HTTP; bad data is never written."""

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.errors import CalhousingError, DataContractError
from core.settings import DataSettings, Settings
from tests.services import free_port, running
from training.datasets import provenance_path, read_provenance
from training.ingest import ingest


def _settings(source: str, tmp_path: Path) -> Settings:
    data = DataSettings(source=source, raw_path=tmp_path / "raw" / "data.csv")
    return Settings(data=data)


@pytest.fixture(scope="module")
def http_dir(tmp_path_factory: pytest.TempPathFactory, california_csv: Path) -> Iterator[str]:
    """A real HTTP server (python -m http.server) serving the CSV and a corrupted copy."""
    root = tmp_path_factory.mktemp("www")
    (root / "housing.csv").write_bytes(california_csv.read_bytes())
    pd.read_csv(california_csv).head(50).to_csv(root / "short.csv", index=False)
    port = free_port()
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    url = f"http://127.0.0.1:{port}"
    with running([*argv, "--directory", str(root)], f"{url}/housing.csv", root.parent / "www.log"):
        yield url


def test_a_local_csv_is_written_with_its_provenance(california_csv: Path, tmp_path: Path) -> None:
    settings = _settings(str(california_csv), tmp_path)
    summary = ingest(settings)
    raw = settings.data.raw_path
    provenance = read_provenance(raw)
    assert provenance.md5 == hashlib.md5(raw.read_bytes()).hexdigest()
    assert provenance.rows == 20_640
    assert provenance.source == str(california_csv)
    assert provenance.md5 in summary
    pd.testing.assert_frame_equal(pd.read_csv(raw), pd.read_csv(california_csv))


def test_ingest_is_byte_for_byte_reproducible(california_csv: Path, tmp_path: Path) -> None:
    first, second = (
        _settings(str(california_csv), tmp_path / "a"),
        _settings(str(california_csv), tmp_path / "b"),
    )
    ingest(first)
    ingest(second)
    assert first.data.raw_path.read_bytes() == second.data.raw_path.read_bytes()


def test_a_url_is_downloaded_over_http(http_dir: str, tmp_path: Path) -> None:
    settings = _settings(f"{http_dir}/housing.csv", tmp_path)
    assert "20640 rows" in ingest(settings)
    assert read_provenance(settings.data.raw_path).source == f"{http_dir}/housing.csv"


def test_a_missing_url_names_the_http_error(http_dir: str, tmp_path: Path) -> None:
    with pytest.raises(CalhousingError, match="404"):
        ingest(_settings(f"{http_dir}/nope.csv", tmp_path))


def test_bad_data_over_http_is_refused_and_nothing_is_written(
    http_dir: str, tmp_path: Path
) -> None:
    settings = _settings(f"{http_dir}/short.csv", tmp_path)
    with pytest.raises(DataContractError, match="50 rows, fewer than the minimum"):
        ingest(settings)
    assert not settings.data.raw_path.exists()
    assert not provenance_path(settings.data.raw_path).exists()


def test_bad_data_leaves_the_previous_raw_data_untouched(
    california_csv: Path, tmp_path: Path
) -> None:
    settings = _settings(str(california_csv), tmp_path)
    ingest(settings)
    before = settings.data.raw_path.read_bytes()
    broken = tmp_path / "broken.csv"
    pd.read_csv(california_csv).assign(MedInc=-1.0).to_csv(broken, index=False)
    with pytest.raises(DataContractError, match="'MedInc' has values outside"):
        ingest(_settings(str(broken), tmp_path))
    assert settings.data.raw_path.read_bytes() == before


def test_a_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(CalhousingError, match="is not a file"):
        ingest(_settings(str(tmp_path / "absent.csv"), tmp_path))


def test_the_cli_prints_contract_errors_without_a_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "calhousing", "--params", str(tmp_path / "none.yaml"), "ingest",
         "--source", str(empty)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is not a readable CSV" in done.stderr
    assert "Traceback" not in done.stderr
