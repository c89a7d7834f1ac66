"""Serving follows the registry alias, wherever the alias moves.

A retrain's promotion, `make pipeline`, a person moving `@production` in MLflow's UI and a
rollback (moving it back) all move one thing: the alias. So the server started on
`models:/<name>@<alias>` looks where the alias points every `period_s` and, when that is another
version, loads it beside the one serving and swaps it in between two requests: no request
fails, readiness never drops, and it is the same in every deployment (local, a plain
Deployment, KServe) because it runs inside the runtime. A version that fails to load is
counted and tried again a period later while the old one keeps serving. A registry that does
not answer is only logged: serving goes on, and MLflow's own health is watched elsewhere.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Resolve = Callable[[], str | None]
"""Where the alias points now (blocking; run in a thread), or None if it points nowhere."""
Switch = Callable[[str], Awaitable[None]]
"""Load that version and serve it; raises if it cannot."""
Failed = Callable[[str, BaseException], None]
"""Count a failure: the version that did not load."""


async def follow(
    period_s: float, resolve: Resolve, serving: Callable[[], str], switch: Switch, failed: Failed
) -> None:
    """Runs until cancelled: one look every `period_s`."""
    while True:
        await asyncio.sleep(period_s)
        await look(resolve, serving, switch, failed)


async def look(
    resolve: Resolve, serving: Callable[[], str], switch: Switch, failed: Failed
) -> str | None:
    """One look at the alias: the version moved to, or None when serving stays as it is."""
    try:
        target = await asyncio.to_thread(resolve)
    except Exception as err:  # MLflow down or refusing: keep serving what is loaded
        log.warning("the alias did not resolve (still serving v%s): %s", serving(), err)
        return None
    if target is None or target == serving():
        return None
    try:
        await switch(target)
    except Exception as err:
        log.error("v%s failed to load (still serving v%s): %s", target, serving(), err)
        failed(target, err)
        return None
    return target
