"""Train: fit each model family, log each as an MLflow run with everything serving and drift
monitoring need (signature, input example, reference profile), list them for evaluate."""

import warnings
from typing import Any

from core.features import FEATURE_NAMES
from core.profile import ReferenceProfile, load_profile, with_prediction
from core.registry import PROFILE_ARTIFACT, RunTag
from core.settings import Family, Settings
from training.compiled import compile_and_log
from training.datasets import PROFILE_FILE, Manifest, Split, load_split, read_manifest
from training.models import SKOPS_TRUSTED_TYPES, build, hyperparams, pip_requirements
from training.records import CANDIDATES_FILE, Candidate, Candidates, write_record
from training.scores import score
from training.tracking import connect, run_params, run_tags

MODEL_ARTIFACT = "model"
EXAMPLE_ROWS = 5


def signature() -> Any:
    """Named float64 columns in feature order in, one float64 prediction out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("double", name) for name in FEATURE_NAMES])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double")]))


def fit_and_log(
    settings: Settings,
    family: Family,
    data: dict[str, Split],
    manifest: Manifest,
    reference: ReferenceProfile,
    *,
    refit_of: str = "",
) -> Candidate:
    """Fit `family` on data["train"], log it as a run (scored on data["validation"]);
    `refit_of`: the run this one fits again, tagged so the two are linked."""
    import mlflow

    train, validation = data["train"], data["validation"]
    params = hyperparams(settings.train, family)
    tags = run_tags(family, manifest) | ({RunTag.REFIT_OF: refit_of} if refit_of else {})
    model = build(settings.train, family).fit(train.x, train.y)
    predictions = model.predict(validation.x)
    scores = score(validation.y, predictions)
    profile = with_prediction(reference, predictions, settings.data.profile_bins)
    with (
        mlflow.start_run(run_name=family + ("-refit" if refit_of else ""), tags=tags) as run,
        warnings.catch_warnings(),
    ):
        # MLflow predicts on the named input example; the model was fitted on the bare float64
        # matrix that serving sends, and the signature, not scikit-learn, owns the names.
        warnings.filterwarnings("ignore", message="X has feature names")
        mlflow.log_params(run_params(settings, family, params))
        if not refit_of:  # a refit has seen validation: its scores there would flatter it
            mlflow.log_metrics(scores.prefixed("validation"))
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature(),
            input_example=validation.frame.head(EXAMPLE_ROWS),
            pip_requirements=pip_requirements(),
            skops_trusted_types=SKOPS_TRUSTED_TYPES[family],
        )
        mlflow.log_dict(profile.model_dump(), PROFILE_ARTIFACT)
        compiled = compile_and_log(model, validation.x)
    return Candidate(
        family=family,
        run_id=run.info.run_id,
        model_uri=info.model_uri,
        validation=scores,
        compiled=compiled,
    )


def train(settings: Settings) -> str:
    import mlflow

    prepared = settings.data.prepared_dir
    manifest = read_manifest(prepared)
    data = {name: load_split(prepared, name) for name in ("train", "validation")}
    reference = load_profile(prepared / PROFILE_FILE)
    connect(settings.mlflow)
    mlflow.set_experiment(settings.mlflow.experiment)
    candidates = [
        fit_and_log(settings, family, data, manifest, reference)
        for family in settings.train.families
    ]
    record = Candidates(
        data_version=manifest.data_version,
        recent_version=manifest.recent_version,
        candidates=candidates,
    )
    write_record(record, settings.train.artifacts_dir / CANDIDATES_FILE)
    lines = [
        f"  {c.family}: validation RMSE {c.validation.rmse:.4f} (run {c.run_id}), {c.compiled}"
        for c in candidates
    ]
    return "\n".join(
        [f"train: {len(candidates)} candidate(s), data version {manifest.data_version}", *lines]
    )
