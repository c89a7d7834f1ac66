"""The promotion lock: two registers finishing together must not both move the alias.

MLflow has no compare-and-set on an alias, but creating a registered model is atomic (the
name is unique in its database). So a promotion holds `<model>.promotion-lock`, a registered
model it creates, while it re-reads the alias and moves it, and deletes it afterwards; the
other promotion waits, then finds the alias moved and aborts. One mechanism wherever training
runs (a laptop, a Job, two Jobs at once), since every promotion already talks to MLflow.

A holder that dies inside its critical section (two REST calls) leaves the lock behind: it is
broken once past its expiry (`registry.promotion_lock_s`). Two promoters breaking the same
expired lock at the same instant is the one case this does not order.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import CalhousingError
from core.settings import RegistrySettings

log = logging.getLogger(__name__)

HOLDER, EXPIRES = "lock.holder", "lock.expires_at"
POLL_S = 0.5


def lock_name(model_name: str) -> str:
    return f"{model_name}.promotion-lock"


@contextmanager
def promotion_lock(
    client: Any, registry: RegistrySettings, clock: Callable[[], float] = time.time
) -> Iterator[None]:
    """Hold the model's promotion lock for the block; waits for a live holder, breaks a dead
    one's, and fails clearly when it cannot get the lock in time."""
    name, holder = lock_name(registry.model_name), uuid.uuid4().hex
    deadline = clock() + 2 * registry.promotion_lock_s
    while not _acquire(client, name, holder, clock() + registry.promotion_lock_s):
        _break_if_expired(client, name, clock())
        if clock() > deadline:
            raise CalhousingError(
                f"{name} stayed held for {2 * registry.promotion_lock_s:.0f} s: another "
                "promotion of this model keeps it; nothing was moved, run register again"
            )
        time.sleep(POLL_S)
    try:
        yield
    finally:
        _release(client, name, holder)


def _acquire(client: Any, name: str, holder: str, expires_at: float) -> bool:
    from mlflow.exceptions import MlflowException

    description = "Held while a promotion moves the alias (training/lock.py); not a model."
    try:
        client.create_registered_model(
            name, tags={HOLDER: holder, EXPIRES: f"{expires_at:.3f}"}, description=description
        )
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return False
    return True


def _tags(client: Any, name: str) -> dict[str, str] | None:
    """The lock's tags; None when no one holds it."""
    from mlflow.exceptions import MlflowException

    try:
        return dict(client.get_registered_model(name).tags)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return None


def _delete(client: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.delete_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise


def _break_if_expired(client: Any, name: str, now: float) -> None:
    tags = _tags(client, name)
    if tags is not None and float(tags.get(EXPIRES, "0")) < now:
        log.warning("breaking %s: its holder %s let it expire", name, tags.get(HOLDER))
        _delete(client, name)


def _release(client: Any, name: str, holder: str) -> None:
    """Delete the lock if it is still ours (after an expiry someone else may hold it)."""
    tags = _tags(client, name)
    if tags is not None and tags.get(HOLDER) == holder:
        _delete(client, name)
