"""The two rules of the lifecycle, as pure functions: which candidate wins, which model serves."""

import math
from dataclasses import dataclass

from calhousing.errors import CalhousingError
from calhousing.settings import Family
from training.records import Evaluated


def select_best(candidates: dict[Family, Evaluated]) -> Family:
    """The sane candidate with the lowest validation RMSE. The holdout is not looked at: it is
    kept for the champion comparison, so it stays an unbiased judge there."""
    sane = {family: c for family, c in candidates.items() if c.sane}
    if not sane:
        failed = {
            family: [k for k, ok in c.checks.items() if not ok] for family, c in candidates.items()
        }
        raise CalhousingError(f"no candidate passed the sanity checks: {failed}")
    return min(sane, key=lambda family: sane[family].validation.rmse)


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str


def decide(
    challenger_rmse: float,
    champion_version: str | None,
    champion_rmse: float | None,
    min_improvement: float,
) -> Verdict:
    """Promote when there is no champion, or the challenger's holdout RMSE beats the champion's
    (on the same holdout) by more than `min_improvement`."""
    if not math.isfinite(challenger_rmse):
        return Verdict(False, f"challenger holdout RMSE is {challenger_rmse}")
    if champion_version is None or champion_rmse is None:
        return Verdict(True, "no champion yet")
    if not math.isfinite(champion_rmse):
        return Verdict(True, f"champion v{champion_version} scores holdout RMSE {champion_rmse}")
    bar = champion_rmse - min_improvement
    versus = (
        f"holdout RMSE {challenger_rmse:.4f} vs champion v{champion_version} "
        f"{champion_rmse:.4f} (must be < {bar:.4f})"
    )
    if challenger_rmse < bar:
        return Verdict(True, f"better: {versus}")
    return Verdict(False, f"not better: {versus}")
