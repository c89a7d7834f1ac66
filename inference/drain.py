"""Draining: once a pod is told it will stop, every REST answer closes its connection.

Why: the preStop pause takes the pod out of the Service's endpoints, but a client's keep-alive
connection stays with the pod, and when the server finally closes it a request sent at that
instant is lost ("Server disconnected without sending a response": one in ~800 requests of an
upgrade under load). With `Connection: close` on every answer during the pause, each client's
next request opens a new connection, which the Service sends to a pod that stays.

The pod is told by a file: the chart's preStop hook creates it, then sleeps. The file is looked
at no more than every `every_s`, not on every request.
"""

import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]

CLOSE = (b"connection", b"close")


class Drain:
    """ASGI middleware: `Connection: close` on every HTTP answer once `marker` exists."""

    def __init__(self, app: App, marker: Path, every_s: float = 0.25) -> None:
        self.app, self.marker, self.every_s = app, marker, every_s
        self._draining, self._looked = False, float("-inf")

    def draining(self) -> bool:
        now = time.monotonic()
        if not self._draining and now - self._looked >= self.every_s:
            self._looked, self._draining = now, self.marker.exists()
        return self._draining

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.draining():
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), CLOSE]}
            await send(message)

        await self.app(scope, receive, closing)
