"""The two lifecycle rules as pure functions: candidate selection and promotion."""

import math

import pytest

from core.errors import CalhousingError
from core.settings import Family
from training.policy import decide, select_best
from training.records import Decision, Evaluated, Scores


def _candidate(family: Family, validation: float, holdout: float, sane: bool = True) -> Evaluated:
    return Evaluated(
        family=family,
        run_id=f"run-{family}",
        model_uri=f"models:/m-{family}",
        validation=Scores(rmse=validation, mae=validation, r2=0.5),
        holdout=Scores(rmse=holdout, mae=holdout, r2=0.5),
        checks={"finite_outputs": True, "medinc_raises_median": sane},
    )


def test_the_lowest_validation_rmse_wins_whatever_the_holdout_says() -> None:
    candidates: dict[Family, Evaluated] = {
        "linear": _candidate("linear", 0.70, 0.40),
        "hist_gradient_boosting": _candidate("hist_gradient_boosting", 0.45, 0.60),
    }
    assert select_best(candidates) == "hist_gradient_boosting"


def test_a_candidate_failing_a_sanity_check_cannot_win() -> None:
    candidates: dict[Family, Evaluated] = {
        "linear": _candidate("linear", 0.70, 0.70),
        "random_forest": _candidate("random_forest", 0.40, 0.40, sane=False),
    }
    assert select_best(candidates) == "linear"


def test_no_sane_candidate_is_an_error_naming_the_failed_checks() -> None:
    candidates: dict[Family, Evaluated] = {"linear": _candidate("linear", 0.70, 0.70, sane=False)}
    with pytest.raises(CalhousingError, match="medinc_raises_median"):
        select_best(candidates)


def test_the_first_model_is_promoted() -> None:
    assert decide(0.9, None, None).promote


def test_a_better_challenger_is_promoted() -> None:
    verdict = decide(0.44, "3", 0.46)
    assert verdict.promote
    assert "champion v3" in verdict.reason


@pytest.mark.parametrize("challenger", [0.46, 0.5])
def test_a_challenger_not_better_is_rejected(challenger: float) -> None:
    verdict = decide(challenger, "3", 0.46)
    assert not verdict.promote
    assert verdict.reason.startswith("not better")


def test_a_challenger_with_a_non_finite_score_is_rejected_even_without_champion() -> None:
    assert not decide(math.inf, None, None).promote


def test_a_champion_with_a_non_finite_score_is_replaced() -> None:
    assert decide(0.5, "1", math.nan).promote


def test_a_decision_summarises_itself_naming_the_alias_only_when_promoted() -> None:
    fields = {"model_name": "houses", "version": "7", "family": "linear", "reason": "why",
              "challenger_holdout_rmse": 0.5, "champion_version": "6",
              "champion_holdout_rmse": 0.6, "data_version": "d"}  # fmt: skip

    promoted = Decision(decision="promoted", **fields).summary("production")
    rejected = Decision(decision="rejected", **fields).summary("production")

    assert promoted == "register: houses v7 (linear) promoted as @production: why"
    assert rejected == "register: houses v7 (linear) rejected: why"
