"""The JSON records the stages leave for DVC and for each other (artifacts_dir)."""

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from core.settings import Family

CANDIDATES_FILE = "candidates.json"
EVALUATION_FILE = "evaluation.json"
DECISION_FILE = "decision.json"

R = TypeVar("R", bound="Record")


class Record(BaseModel):
    # A model that predicts NaN scores inf: written as Infinity, read back as inf.
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")


class Scores(Record):
    rmse: float
    mae: float
    r2: float

    def prefixed(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}_{name}": value for name, value in self.model_dump().items()}


class Candidate(Record):
    family: Family
    run_id: str
    model_uri: str
    validation: Scores
    compiled: str = ""
    """Whether a forest for serving was logged beside the model (training.compiled)."""


class Candidates(Record):
    data_version: str
    recent_version: str = ""
    candidates: list[Candidate]


class Evaluated(Candidate):
    holdout: Scores
    checks: dict[str, bool]

    @property
    def sane(self) -> bool:
        return all(self.checks.values())


class Evaluation(Record):
    data_version: str
    recent_version: str = ""
    best: Family
    candidates: dict[Family, Evaluated]
    refit: Evaluated | None = None
    """The best family fitted again on train + validation (training.refit), when enabled."""

    @property
    def winner(self) -> Evaluated:
        """What register registers: the refit if there is one, else the best candidate."""
        return self.refit or self.candidates[self.best]


class Decision(Record):
    model_name: str
    version: str
    family: str
    """The model family of the registered version (the evaluation's winner)."""
    decision: str
    """`promoted`, `rejected` or `aborted` (the alias moved while we compared)."""
    reason: str
    challenger_holdout_rmse: float
    """On the frozen reference holdout, as champion_holdout_rmse."""
    champion_version: str | None
    champion_holdout_rmse: float | None
    holdout_rows: int = 0
    recent_holdout_rows: int = 0
    """Rows of the recent holdout (labelled served rows); 0: judged on the reference."""
    recent_challenger_rmse: float | None = None
    recent_champion_rmse: float | None = None
    data_version: str
    recent_version: str = ""

    def summary(self, alias: str) -> str:
        where = f" as @{alias}" if self.decision == "promoted" else ""
        return (
            f"register: {self.model_name} v{self.version} ({self.family}) "
            f"{self.decision}{where}: {self.reason}"
        )


def write_record(record: Record, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.model_dump_json(indent=2) + "\n")


def read_record(kind: type[R], path: Path) -> R:
    return kind.model_validate_json(path.read_text())
