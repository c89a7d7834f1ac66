"""inference.follow's one look at the alias, with the registry and the load as plain functions:
the integration test (tests/integration/test_follow_alias.py) runs it on a real server."""

import asyncio

import pytest

from inference.follow import look


class Server:
    def __init__(self, version: str, loads: bool = True) -> None:
        self.version, self.loads = version, loads
        self.failures: list[str] = []

    async def switch(self, version: str) -> None:
        if not self.loads:
            raise RuntimeError(f"v{version} is broken")
        self.version = version

    def failed(self, version: str, _: BaseException) -> None:
        self.failures.append(version)

    def look(self, target: str | None) -> str | None:
        return asyncio.run(look(lambda: target, lambda: self.version, self.switch, self.failed))


def test_a_moved_alias_moves_serving_to_its_version() -> None:
    server = Server("1")
    assert server.look("2") == "2"
    assert server.version == "2" and server.failures == []


@pytest.mark.parametrize("target", ["1", None], ids=["same-version", "alias-deleted"])
def test_serving_stays_when_the_alias_did_not_move_or_points_nowhere(target: str | None) -> None:
    server = Server("1")
    assert server.look(target) is None
    assert server.version == "1" and server.failures == []


def test_a_version_that_fails_to_load_is_counted_and_the_old_one_keeps_serving() -> None:
    server = Server("1", loads=False)
    assert server.look("2") is None
    assert server.version == "1" and server.failures == ["2"]


def test_a_registry_that_does_not_answer_leaves_serving_as_it_is_and_counts_no_failure() -> None:
    server = Server("1")

    def down() -> str:
        raise ConnectionError("MLflow is down")

    assert asyncio.run(look(down, lambda: server.version, server.switch, server.failed)) is None
    assert server.version == "1" and server.failures == []
