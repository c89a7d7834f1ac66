"""One look at MLflow's /health: its client retries an unreachable server for minutes, so
training and serving ask once, with a short timeout, before they use it."""

import httpx

from core.errors import CalhousingError

HEALTH_TIMEOUT_S = 5.0


def check_reachable(uri: str) -> None:
    """Fails with a readable message when the tracking server at `uri` does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        httpx.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT_S).raise_for_status()
    except httpx.HTTPError as err:
        raise CalhousingError(f"MLflow at {uri} unreachable: {err}") from err
