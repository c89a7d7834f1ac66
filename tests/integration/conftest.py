"""The integration fixtures, shared by every module here: the served model (REST and gRPC
clients), the observability stack (Pushgateway, Prometheus, a trained model served), and the
DVC pipeline repository. Each lives in its own `*_fixtures` module."""

from tests.integration.observability_fixtures import prometheus, pushgateway, server, trained
from tests.integration.pipeline_fixtures import pipeline_repo
from tests.integration.serving_fixtures import grpc_client, registered_model, rest, served

__all__ = [
    "grpc_client",
    "pipeline_repo",
    "prometheus",
    "pushgateway",
    "registered_model",
    "rest",
    "served",
    "server",
    "trained",
]
