"""The real DVC pipeline against a real MLflow server: lineage, caching, promotion rules."""

import json
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from core.errors import CalhousingError
from core.features import FEATURE_NAMES
from core.profile import ReferenceProfile
from core.settings import RegistrySettings
from tests.integration.pipeline_fixtures import EXPERIMENT, MODEL_NAME, PipelineRepo

pytestmark = pytest.mark.integration
STAGES = ("ingest", "recent", "prepare", "train", "evaluate", "register")
# The prediction log changes outside DVC: the stage that reads it always runs, and what it
# writes decides whether anything downstream runs.
ALWAYS = {"recent"}
RAW = "data/raw/california_housing.csv"


def _client(repo: PipelineRepo) -> Any:
    import mlflow

    # Process-wide too: logged models (`models:/m-...`) resolve through the global URI only.
    mlflow.set_tracking_uri(repo.mlflow.uri)
    return mlflow.MlflowClient(tracking_uri=repo.mlflow.uri, registry_uri=repo.mlflow.uri)


def _champion(repo: PipelineRepo) -> str:
    return str(_client(repo).get_model_version_by_alias(MODEL_NAME, "production").version)


@pytest.fixture(scope="module")
def first_run(pipeline_repo: PipelineRepo) -> str:
    return pipeline_repo.dvc("repro")


def test_repro_promotes_the_first_model_and_records_why(
    pipeline_repo: PipelineRepo, first_run: str
) -> None:
    decision = pipeline_repo.record("decision.json")
    assert decision["decision"] == "promoted"
    assert _champion(pipeline_repo) == decision["version"]
    tags = _client(pipeline_repo).get_model_version(MODEL_NAME, decision["version"]).tags
    assert tags["decision"] == "promoted"
    assert tags["decision.reason"] == "no champion yet"
    assert tags["data.version"] == pipeline_repo.lock_md5("ingest", RAW)
    assert float(tags["holdout_rmse.challenger"]) == pytest.approx(
        decision["challenger_holdout_rmse"], abs=1e-6
    )


def _profile(repo: PipelineRepo, run_id: str, dst: Path) -> ReferenceProfile:
    path = _client(repo).download_artifacts(run_id, "reference_profile.json", str(dst))
    return ReferenceProfile.model_validate_json(Path(path).read_text())


def test_every_candidate_run_carries_its_lineage_scores_and_serving_metadata(
    pipeline_repo: PipelineRepo, first_run: str, tmp_path: Path
) -> None:
    from mlflow.models import get_model_info

    data_version = pipeline_repo.lock_md5("ingest", RAW)
    candidates = pipeline_repo.record("candidates.json")["candidates"]
    assert {c["family"] for c in candidates} == {
        "linear",
        "random_forest",
        "hist_gradient_boosting",
    }
    for i, candidate in enumerate(candidates):
        run = _client(pipeline_repo).get_run(candidate["run_id"])
        assert run.data.tags["data.version"] == data_version
        assert run.data.tags["data.rows"] == "20640"
        assert len(run.data.tags["git.sha"]) == 40
        assert run.data.params["family"] == candidate["family"]
        assert {"seed", "split_salt", "holdout_fraction"} <= set(run.data.params)
        for split in ("validation", "holdout"):
            assert {f"{split}_{m}" for m in ("rmse", "mae", "r2")} <= set(run.data.metrics)
        model = get_model_info(candidate["model_uri"])
        assert model.signature.inputs.input_names() == list(FEATURE_NAMES)
        assert model.saved_input_example_info is not None
        assert model.flavors["sklearn"]["serialization_format"] == "skops"
        profile = _profile(pipeline_repo, candidate["run_id"], tmp_path / str(i))
        assert [f.name for f in profile.features] == list(FEATURE_NAMES)
        assert profile.prediction is not None


def test_an_unchanged_tree_is_clean_and_repro_runs_nothing(
    pipeline_repo: PipelineRepo, first_run: str
) -> None:
    assert pipeline_repo.stale_stages() == ALWAYS
    again = pipeline_repo.dvc("repro")
    assert _ran(again) == ALWAYS
    assert all(f"Stage '{stage}' didn't change" in again for stage in set(STAGES) - ALWAYS)


@pytest.mark.parametrize(
    ("section", "change", "stale"),
    [
        ("train", {"seed": 7}, {"train", "evaluate"}),  # evaluate refits the winner
        ("registry", {"min_improvement": 0.5}, {"register"}),
        ("data", {"split_salt": "other"}, {"prepare", "train"}),
        ("data", {"source": "elsewhere.csv"}, {"ingest"}),
    ],
)
def test_a_param_change_stales_exactly_the_stages_reading_it(
    pipeline_repo: PipelineRepo,
    first_run: str,
    section: str,
    change: dict[str, object],
    stale: set[str],
) -> None:
    """`dvc status` names the stages whose own params changed; the ones downstream follow when
    their inputs change (the repro tests below check which stages then run)."""
    original = (pipeline_repo.root / "params.yaml").read_text()
    try:
        pipeline_repo.set_params(section, **change)
        status = pipeline_repo.status()
        assert set(status) == stale | ALWAYS
        for stage in stale:
            assert status[stage] == [{"changed deps": {"params.yaml": ANY}}]
    finally:
        (pipeline_repo.root / "params.yaml").write_text(original)
    assert pipeline_repo.stale_stages() == ALWAYS


def _ran(output: str) -> set[str]:
    return {stage for stage in STAGES if f"Running stage '{stage}'" in output}


def test_a_worse_challenger_is_registered_rejected_and_the_alias_stays(
    pipeline_repo: PipelineRepo, first_run: str
) -> None:
    champion = _champion(pipeline_repo)
    pipeline_repo.set_train(families=["linear"])
    assert _ran(pipeline_repo.dvc("repro")) == ALWAYS | {"train", "evaluate", "register"}
    decision = pipeline_repo.record("decision.json")
    assert decision["decision"] == "rejected"
    assert decision["champion_version"] == champion
    assert _champion(pipeline_repo) == champion
    tags = _client(pipeline_repo).get_model_version(MODEL_NAME, decision["version"]).tags
    assert tags["decision"] == "rejected"
    assert tags["decision.reason"].startswith("not better")


def test_a_better_challenger_takes_the_alias(pipeline_repo: PipelineRepo, first_run: str) -> None:
    champion = _champion(pipeline_repo)
    better = pipeline_repo.params["train"]["hist_gradient_boosting"] | {"max_iter": 120}
    pipeline_repo.set_train(families=["hist_gradient_boosting"], hist_gradient_boosting=better)
    assert _ran(pipeline_repo.dvc("repro")) == ALWAYS | {"train", "evaluate", "register"}
    decision = pipeline_repo.record("decision.json")
    assert decision["decision"] == "promoted", decision
    assert decision["champion_version"] == champion
    assert decision["challenger_holdout_rmse"] < decision["champion_holdout_rmse"]
    assert _champion(pipeline_repo) == decision["version"] != champion
    assert pipeline_repo.stale_stages() == ALWAYS


def test_promotion_refuses_when_the_alias_moved_meanwhile(
    pipeline_repo: PipelineRepo, first_run: str
) -> None:
    from training.register import ensure_alias_unmoved

    registry = RegistrySettings(model_name=MODEL_NAME)
    current = _champion(pipeline_repo)
    ensure_alias_unmoved(_client(pipeline_repo), registry, current)
    with pytest.raises(CalhousingError, match=f"moved from no version to v{current}"):
        ensure_alias_unmoved(_client(pipeline_repo), registry, None)


def test_the_one_process_pipeline_runs_every_stage(
    pipeline_repo: PipelineRepo, first_run: str, tmp_path: Path
) -> None:
    # Outputs elsewhere, so the DVC-tracked ones stay as `dvc repro` left them.
    pipeline_repo.env.update({
        "CALHOUSING_DATA__RAW_PATH": str(tmp_path / "raw.csv"),
        "CALHOUSING_DATA__RECENT__PATH": str(tmp_path / "recent.csv"),
        "CALHOUSING_DATA__PREPARED_DIR": str(tmp_path / "prepared"),
        "CALHOUSING_TRAIN__ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    })  # fmt: skip
    try:
        output = pipeline_repo.run("calhousing", "pipeline")
    finally:
        for key in ("RAW_PATH", "RECENT__PATH", "PREPARED_DIR"):
            pipeline_repo.env.pop(f"CALHOUSING_DATA__{key}")
        pipeline_repo.env.pop("CALHOUSING_TRAIN__ARTIFACTS_DIR")
    assert all(f"{stage}:" in output for stage in STAGES)
    decision = json.loads((tmp_path / "artifacts" / "decision.json").read_text())
    assert decision["decision"] in {"promoted", "rejected"}
    assert pipeline_repo.stale_stages() == ALWAYS
    experiment = _client(pipeline_repo).get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
