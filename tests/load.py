"""Steady single-row traffic from one background thread, for tests that change what serves
(a rollout, an upgrade, the alias moving) while requests keep coming: the version of each
answer, in order, and every failure."""

import threading
import time

import numpy as np

from core.profile import FloatArray
from inference.client import RestClient


class Load:
    def __init__(self, base_url: str, model: str, rows: FloatArray, pause_s: float = 0.0) -> None:
        self.base_url, self.model, self.rows, self.pause_s = base_url, model, rows, pause_s
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with RestClient(self.base_url, self.model) as client:
            while not self._stop.is_set():
                row = self.rows[len(self.versions) % len(self.rows)][np.newaxis]
                try:
                    self.versions.append(client.infer(row).model_version)
                except Exception as err:  # every failure counts
                    self.failures.append(repr(err))
                time.sleep(self.pause_s)

    def serves_only(self, version: str, last: int = 20) -> bool:
        """The last `last` answers (and more than that many in all) all came from `version`."""
        return len(self.versions) > last and set(self.versions[-last:]) == {version}

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
