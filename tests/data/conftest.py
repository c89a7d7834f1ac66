from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def real_frame(california_csv: Path) -> pd.DataFrame:
    return pd.read_csv(california_csv)
