"""The one front door: DVC stages, Makefile targets and Kubernetes workloads all call these.

Heavy imports (mlflow takes ~4 s) stay inside the commands so `--help` is instant. Importing
the command modules registers their commands on `app`.
"""

# The import order is the order of `calhousing --help`: the lifecycle first.
# isort: off
from calhousing.cli import pipeline, stack, monitoring, cluster

# isort: on
from calhousing.cli.app import app

__all__ = ["app", "cluster", "monitoring", "pipeline", "stack"]
