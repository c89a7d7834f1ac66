"""Every stage in one process, in DVC's order: what a Kubernetes training Job runs. The same
functions as the DVC stages, so the two paths cannot drift apart."""

from collections.abc import Callable

from core.settings import Settings
from training.evaluate import evaluate
from training.ingest import ingest
from training.prepare import prepare
from training.recent import recent
from training.records import Decision
from training.register import register
from training.train import train

BEFORE_REGISTER: tuple[Callable[[Settings], str], ...] = (ingest, recent, prepare, train, evaluate)


def run_all(settings: Settings, echo: Callable[[str], None]) -> Decision:
    """Run every stage, passing each one's summary to `echo` as soon as it is done."""
    for stage in BEFORE_REGISTER:
        echo(stage(settings))
    decision = register(settings)
    echo(decision.summary(settings.registry.alias))
    return decision
