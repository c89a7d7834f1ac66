"""Two promotions at once, against a real MLflow server: the promotion lock (training/lock.py)
orders them, so only one moves the alias; a lock left by a dead promoter is broken once it
expires, and one that stays held fails the promotion clearly, moving nothing."""

import threading
import time
from typing import Any

import pytest

from core.errors import CalhousingError
from core.settings import RegistrySettings, Settings
from tests.services import MlflowServer
from training.lock import EXPIRES, HOLDER, lock_name
from training.records import Decision
from training.register import promote
from training.tracking import connect

pytestmark = pytest.mark.integration

MODEL = "calhousing-lock-test"


def _client(mlflow: MlflowServer) -> Any:
    return connect(Settings(mlflow={"tracking_uri": mlflow.uri}).mlflow)


def _champion_and_challengers(client: Any, model: str, challengers: int) -> list[str]:
    """A new model whose v1 holds @production, and `challengers` more versions (the lock only
    moves aliases: the versions need no artifacts)."""
    client.create_registered_model(model)
    run = client.create_run(client.create_experiment(model)).info.run_id
    versions = [
        str(client.create_model_version(model, f"runs:/{run}/model", run_id=run).version)
        for _ in range(challengers + 1)
    ]
    client.set_registered_model_alias(model, "production", versions[0])
    return versions


def _decision(model: str, version: str, champion: str) -> Decision:
    return Decision(model_name=model, version=version, family="linear", decision="promoted",
                    reason="better", challenger_holdout_rmse=0.5, champion_version=champion,
                    champion_holdout_rmse=0.6, data_version="md5")  # fmt: skip


def _alias_of(client: Any, model: str) -> str:
    return str(client.get_registered_model(model).aliases["production"])


def _held_lock(client: Any, model: str, holder: str, expires_in_s: float) -> None:
    """The lock as another promoter left it, expiring `expires_in_s` from now."""
    tags = {HOLDER: holder, EXPIRES: str(time.time() + expires_in_s)}
    client.create_registered_model(lock_name(model), tags=tags)


def _lock_left(client: Any, model: str) -> bool:
    return bool(client.search_registered_models(f"name = '{lock_name(model)}'"))


def test_two_promotions_from_the_same_champion_at_once_move_the_alias_once(
    mlflow: MlflowServer,
) -> None:
    """Both challengers beat v1 and reach `promote` together (a barrier): the second re-reads
    the alias under the lock, finds it moved, and aborts with the reason."""
    model, client = f"{MODEL}-race", _client(mlflow)
    champion, *challengers = _champion_and_challengers(client, model, 2)
    registry = RegistrySettings(model_name=model)
    barrier, outcomes = threading.Barrier(len(challengers)), dict[str, str]()

    def race(version: str) -> None:
        mine = _client(mlflow)
        barrier.wait()
        try:
            promote(mine, registry, _decision(model, version, champion))
            outcomes[version] = "promoted"
        except CalhousingError as err:
            outcomes[version] = str(err)

    threads = [threading.Thread(target=race, args=(v,)) for v in challengers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [winner] = [v for v, outcome in outcomes.items() if outcome == "promoted"]
    [loser] = set(challengers) - {winner}
    assert f"moved from v{champion} to v{winner}" in outcomes[loser]
    assert _alias_of(client, model) == winner
    assert client.get_model_version(model, loser).tags["decision"] == "aborted"
    assert not _lock_left(client, model)


def test_a_promotion_lock_left_by_a_dead_promoter_is_broken_after_it_expires(
    mlflow: MlflowServer,
) -> None:
    model, client = f"{MODEL}-stale", _client(mlflow)
    champion, challenger = _champion_and_challengers(client, model, 1)
    _held_lock(client, model, "a promoter that died", expires_in_s=1)
    registry = RegistrySettings(model_name=model, promotion_lock_s=2)

    promote(client, registry, _decision(model, challenger, champion))

    assert _alias_of(client, model) == challenger
    assert not _lock_left(client, model)


def test_a_promotion_lock_held_past_twice_its_expiry_fails_clearly_and_moves_nothing(
    mlflow: MlflowServer,
) -> None:
    model, client = f"{MODEL}-held", _client(mlflow)
    champion, challenger = _champion_and_challengers(client, model, 1)
    _held_lock(client, model, "a live promoter", expires_in_s=3600)
    registry = RegistrySettings(model_name=model, promotion_lock_s=1)

    with pytest.raises(CalhousingError, match="stayed held for 2 s"):
        promote(client, registry, _decision(model, challenger, champion))

    assert _alias_of(client, model) == champion
