"""What every settings section shares: frozen, no unknown keys, and the local run folder."""

from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

RUN_DIR: Final = Path(".run")
"""The root of everything a local run writes: the defaults below derive from it, and follow
`local.run_dir` when that is set (Settings._under_run_dir)."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
