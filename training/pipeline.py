"""Every stage in one process, in DVC's order: what a Kubernetes training Job runs. The same
functions as the DVC stages, so the two paths cannot drift apart."""

from collections.abc import Callable, Iterator

from core.settings import Settings
from training.evaluate import evaluate
from training.ingest import ingest
from training.prepare import prepare
from training.register import register
from training.train import train

STAGES: tuple[Callable[[Settings], str], ...] = (ingest, prepare, train, evaluate, register)


def run_all(settings: Settings) -> Iterator[str]:
    """Yield each stage's summary as soon as it is done."""
    for stage in STAGES:
        yield stage(settings)
