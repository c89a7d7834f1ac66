"""A local Prometheus and Pushgateway for the demo: the cluster's monitoring, without a cluster.

Debian's `prometheus` and `prometheus-pushgateway` packages provide the binaries. Prometheus
scrapes the local MLServer's metrics port and the Pushgateway under the same job names the
chart's ServiceMonitors give them, and loads the chart's own rule file, so the alerts and
dashboard queries that run in the cluster run here unchanged.
"""

import shutil
import signal
import subprocess
from pathlib import Path
from types import FrameType
from typing import Any, Final

import yaml

from core.errors import CalhousingError
from core.settings import Settings

PREDICTOR_JOB: Final = "calhousing-predictor"
PUSHGATEWAY_JOB: Final = "calhousing-pushgateway"
RULES: Final = Path(__file__).resolve().parents[1] / "helm/calhousing/files/rules"


def scrape_config(
    predictor: str, pushgateway: str, interval: str = "15s", rules: Path = RULES
) -> dict[str, Any]:
    """Prometheus' configuration: `predictor` and `pushgateway` are host:port targets."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules / "*.yaml")],
        "scrape_configs": [
            {"job_name": PREDICTOR_JOB, "static_configs": [{"targets": [predictor]}]},
            # Pushed series keep the job and grouping labels their batch job gave them.
            {
                "job_name": PUSHGATEWAY_JOB,
                "honor_labels": True,
                "static_configs": [{"targets": [pushgateway]}],
            },
        ],
    }


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise CalhousingError(f"{name} not found: `sudo apt-get install prometheus {name}`")
    return path


def prometheus_argv(config: Path, storage: Path, address: str) -> list[str]:
    return [
        _binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={storage}",
        f"--web.listen-address={address}",
    ]


def pushgateway_argv(address: str) -> list[str]:
    return [_binary("prometheus-pushgateway"), f"--web.listen-address={address}"]


def run(settings: Settings) -> None:
    """Run the Pushgateway and Prometheus in the foreground until Ctrl-C."""
    monitoring, root = settings.monitoring, settings.local.run_dir / "prometheus"
    root.mkdir(parents=True, exist_ok=True)
    pushgateway = f"127.0.0.1:{monitoring.pushgateway_port}"
    config = root / "prometheus.yml"
    predictor = f"{settings.serve.host}:{settings.serve.metrics_port}"
    config.write_text(yaml.safe_dump(scrape_config(predictor, pushgateway)))
    print(f"Prometheus: http://127.0.0.1:{monitoring.prometheus_port} (config {config})")
    print(f"Pushgateway: http://{pushgateway}; training pushes there with")
    print(f"  CALHOUSING_MONITORING__PUSHGATEWAY_URL=http://{pushgateway}", flush=True)
    address = f"127.0.0.1:{monitoring.prometheus_port}"
    # SIGTERM (a process manager, `kill`) stops both children like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    with (
        subprocess.Popen(pushgateway_argv(pushgateway)) as gateway,
        subprocess.Popen(prometheus_argv(config, root / "data", address)) as server,
    ):
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for process in (server, gateway):
                process.terminate()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
