from calhousing.services import mlflow_server_argv
from core.settings import MlflowSettings


def test_mlflow_server_proxies_artifacts_to_the_configured_destination() -> None:
    argv = mlflow_server_argv(MlflowSettings(artifacts_destination="/mlflow/artifacts"))

    assert "--serve-artifacts" in argv
    assert argv[argv.index("--artifacts-destination") + 1] == "/mlflow/artifacts"


def test_allowed_hosts_are_passed_only_when_configured() -> None:
    assert "--allowed-hosts" not in mlflow_server_argv(MlflowSettings())

    argv = mlflow_server_argv(MlflowSettings(allowed_hosts=("mlflow", "mlflow:5000")))

    assert argv[argv.index("--allowed-hosts") + 1] == "mlflow,mlflow:5000"
