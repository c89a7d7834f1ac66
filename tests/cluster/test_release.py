"""The chart installed on a real cluster, as a user installs it: `helm install --wait` of the
local profile into a namespace that enforces Pod Security `restricted`, then what a platform
engineer does with it, in order: call it, test it, retrain it by hand, move its alias, send it
shifted traffic and its labels so the drift check retrains it on them and serving follows,
upgrade it under load, uninstall it."""

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.registry import VersionTag
from core.settings import Settings
from monitoring.drift_demo import LABELLED, drifted
from tests.cluster.conftest import Namespace
from tests.cluster.kube import CHART, LOCAL_VALUES, REPO, KubeError, eventually
from tests.cluster.release import MODEL, ROWS, Release, labels_of, pretty, tags
from tests.load import Load

SMOKE_TEST = CHART / "files" / "smoke_test.py"
SHARED_DATA = REPO.parent / "shared" / "data" / "california_housing.csv"

# The install trains the first model: minutes on two cores.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]
NAME = "calhousing"
# The drift check judges the current window and retrains on its first drifted one; the
# predictors look at the alias every 3 s.
OVERRIDES = "drift.consecutive=1,drift.cooldownSeconds=0,serving.followAliasSeconds=3"


GATEWAY_HOSTS = ("calhousing.localtest.me", "grpc.calhousing.localtest.me")


@pytest.fixture(scope="module")
def gateway_ca(restricted_namespace: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Gateway's certificate (self-signed, both host names), as `make deploy` makes it."""
    out = tmp_path_factory.mktemp("gateway-tls")
    crt, key = out / "tls.crt", out / "tls.key"
    san = ",".join(f"DNS:{host}" for host in GATEWAY_HOSTS)
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
               "-subj", f"/CN={GATEWAY_HOSTS[0]}", "-addext", f"subjectAltName={san}",
               "-keyout", str(key), "-out", str(crt)]  # fmt: skip
    subprocess.run(openssl, check=True, capture_output=True)
    tls = ("create", "secret", "tls", "calhousing-gateway-tls", f"--cert={crt}", f"--key={key}")
    restricted_namespace.kube.kubectl("-n", restricted_namespace.name, *tls)
    return crt


@pytest.fixture(scope="module")
def release(restricted_namespace: Namespace, gateway_ca: Path) -> Iterator[Release]:
    kube, ns = restricted_namespace.kube, restricted_namespace.name
    start = time.monotonic()
    kube.helm("install", NAME, str(CHART), "-n", ns, "-f", str(LOCAL_VALUES), "--set", OVERRIDES,
              "--wait", "--wait-for-jobs", "--timeout", "20m", timeout=1300)  # fmt: skip
    print(
        f"\nhelm install --wait: first model trained and served in {time.monotonic() - start:.0f} s"
    )
    yield Release(kube, NAME, ns)
    if NAME in kube.helm("list", "-n", ns, "-q"):
        kube.helm("uninstall", NAME, "-n", ns, "--wait")


def test_helm_install_wait_ends_with_the_first_model_served(release: Release) -> None:
    [job] = [j for j in release.items("jobs") if "-first-model-" in j["metadata"]["name"]]
    assert release.job_succeeded(job["metadata"]["name"])
    version = release.alias_version()
    # A Service routes to a pod a moment after it is ready: kube-proxy's next sync.
    eventually(lambda: release.rest().ready(), 60, "the predictor Service answering")
    assert release.rest().infer(ROWS).model_version == version


def _logged_at(log: str, text: str) -> datetime:
    """The time of the first JSON log line holding `text`."""
    line = next(json.loads(raw) for raw in log.splitlines() if text in raw)
    return datetime.fromisoformat(line["time"])


def test_the_predictor_waited_for_its_model_and_was_ready_only_after_loading_it(
    release: Release,
) -> None:
    for pod in release.items("pods", "-l", "app.kubernetes.io/component=predictor"):
        name, status = pod["metadata"]["name"], pod["status"]["containerStatuses"][0]
        log = release.kubectl("logs", name)
        if status["restartCount"]:  # say why: the last exit and the end of its log
            before = release.kubectl("logs", name, "--previous")[-3000:]
            pytest.fail(f"{name} restarted: {pretty(status.get('lastState'))}\n{before}")
        waited = _logged_at(log, f"waiting for models:/{MODEL}@production")
        loaded = _logged_at(log, f"loaded models:/{MODEL}/")
        [ready] = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        became_ready = datetime.fromisoformat(ready["lastTransitionTime"])
        assert ready["status"] == "True"
        assert waited < loaded and became_ready >= loaded.replace(microsecond=0)


def test_every_pod_is_admitted_by_restricted_and_a_privileged_pod_is_refused(
    release: Release,
) -> None:
    pods = release.items("pods")
    assert {p["metadata"]["labels"].get("app.kubernetes.io/component") for p in pods} >= {
        "mlflow", "postgresql", "predictor", "training"}  # fmt: skip
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
                  "spec": {"containers": [{"name": "c", "image": "localhost/pause:3.10",
                                           "securityContext": {"privileged": True}}]}}  # fmt: skip
    with pytest.raises(KubeError, match='violates PodSecurity "restricted'):
        release.kube.apply(privileged, "-n", release.namespace)


def _can(release: Release, account: str, verb: str, resource: str) -> bool:
    """What the API server's RBAC authorizer answers for this ServiceAccount."""
    who = f"system:serviceaccount:{release.namespace}:{account}"
    argv = [str(release.kube.bin_dir / "kubectl"), "--kubeconfig", str(release.kube.kubeconfig),
            "-n", release.namespace, "auth", "can-i", verb, resource, "--as", who]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.stdout.strip() in {"yes", "no"}, done.stderr
    return done.stdout.strip() == "yes"


def test_service_accounts_can_do_exactly_what_they_are_meant_to(release: Release) -> None:
    accounts = [a["metadata"]["name"] for a in release.items("serviceaccounts")]
    trigger = f"{NAME}-retrain-trigger"
    assert trigger in accounts
    for account in accounts:
        for verb, resource in (("get", "secrets"), ("list", "secrets"), ("create", "pods"),
                               ("create", "pods/exec"), ("delete", "jobs")):  # fmt: skip
            assert not _can(release, account, verb, resource), f"{account} may {verb} {resource}"
    assert _can(release, trigger, "create", "jobs")
    assert _can(release, trigger, "get", f"cronjobs/{NAME}-retrain")
    assert not _can(release, trigger, "get", f"cronjobs/{NAME}-drift")
    assert not _can(release, "default", "create", "jobs")


@pytest.mark.parametrize("layout", ["columns", "tensor"])
def test_v2_rest_and_grpc_agree_through_the_service(release: Release, layout: str) -> None:
    by_rest = release.rest().infer(ROWS, layout)  # type: ignore[arg-type]
    by_grpc = release.grpc().infer(ROWS, layout)  # type: ignore[arg-type]
    np.testing.assert_allclose(by_rest.values, by_grpc.values, rtol=1e-9)
    assert by_rest.model_version == by_grpc.model_version == release.alias_version()
    assert ((by_rest.values > 0.1) & (by_rest.values < 6)).all()


def _accepted(status: dict[str, Any], *conditions: str) -> bool:
    found = {c["type"]: c["status"] for c in status.get("conditions", [])}
    return all(found.get(c) == "True" for c in conditions)


def test_the_gateway_is_programmed_and_both_routes_are_accepted(release: Release) -> None:
    def programmed() -> dict[str, Any] | None:
        gateway = release.get("gateway", NAME)
        return gateway if _accepted(gateway.get("status", {}), "Accepted", "Programmed") else None

    gateway = eventually(programmed, 120, "Traefik to program the Gateway")
    listeners = {li["name"]: li for li in gateway["status"]["listeners"]}
    assert set(listeners) == {"http", "https-0", "https-1"}
    assert all(_accepted(li, "Accepted", "ResolvedRefs") for li in listeners.values())
    for kind, name in (("httproute", f"{NAME}-rest"), ("grpcroute", f"{NAME}-grpc")):
        [parent] = release.get(kind, name)["status"]["parents"]
        assert parent["controllerName"] == "traefik.io/gateway-controller"
        assert _accepted(parent, "Accepted", "ResolvedRefs"), pretty(parent)


def test_v2_rest_and_grpc_over_tls_answer_through_the_gateway(
    release: Release, gateway_ca: Path
) -> None:
    """The smoke test `make gateway-check` runs, sent to Traefik's Service with the host names
    (as curl's --resolve): REST on the HTTP listener, gRPC through TLS on an HTTPS one."""
    traefik = release.kube.get("-n", "traefik", "service", "traefik")["spec"]["clusterIP"]
    env = {"PATH": os.environ["PATH"], "MODEL_NAME": MODEL, "CONNECT_TO": traefik,
           "REST_URL": f"http://{GATEWAY_HOSTS[0]}", "GRPC_TARGET": f"{GATEWAY_HOSTS[1]}:443",
           "GRPC_CA": str(gateway_ca)}  # fmt: skip

    def smoke() -> str | None:
        run = subprocess.run([sys.executable, str(SMOKE_TEST)], env=env, capture_output=True,
                             text=True, timeout=120, check=False)  # fmt: skip
        return run.stdout if run.returncode == 0 else None

    out = eventually(smoke, 60, "V2 through the Gateway", step_s=3)
    print(f"\nthrough the Gateway (Traefik {traefik}): {out.strip()}")
    assert out.startswith("REST ") and ", gRPC " in out


def test_helm_test_passes(release: Release) -> None:
    out = release.kube.helm("test", NAME, "-n", release.namespace, timeout=600)
    assert "Phase:          Succeeded" in out


def test_a_retrain_created_from_the_cronjob_records_its_promotion_decision(
    release: Release,
) -> None:
    release.kubectl("create", "job", f"--from=cronjob/{NAME}-retrain", "manual-retrain")
    log = release.wait_job("manual-retrain")
    assert release.job_succeeded("manual-retrain"), log[-3000:]
    newest = release.mlflow("registered-models/get", name=MODEL)["registered_model"]
    version = max(int(v["version"]) for v in newest["latest_versions"])
    assert version >= 2
    decision = tags(release.model_version(str(version)))
    assert decision["decision"] in {"promoted", "rejected"} and decision["decision.reason"]
    assert decision["champion.version"] == "1"


def _load(release: Release) -> Load:
    """Single rows through the predictor Service, 20 a second."""
    return Load(f"http://{release.service_ip('predictor')}", MODEL, ROWS, pause_s=0.05)


def test_every_predictor_follows_the_alias_moved_in_mlflow_and_back_with_no_failed_request(
    release: Release,
) -> None:
    """The retrain above registered v2: moving @production to it (as MLflow's UI does) moves
    every pod behind the Service within the period, and moving it back is the rollback."""
    champion = release.alias_version()
    challenger = str(int(champion) + 1) if champion == "1" else "1"
    with _load(release) as load:
        release.move_alias(challenger)
        eventually(lambda: load.serves_only(challenger), 120, f"every pod serving v{challenger}")
        moved = len(load.versions)
        release.move_alias(champion)
        eventually(lambda: load.serves_only(champion), 120, f"every pod back on v{champion}")
    print(f"\nalias moved and back under load: {len(load.versions)} answers, "
          f"{len(load.failures)} failed")  # fmt: skip
    assert load.failures == [] and challenger in load.versions[:moved]
    # The load's one keep-alive connection reaches one pod: the other moves within its own
    # follow period (3 s here), possibly after the answers did (seen once: its log lacked the
    # move back when read the instant the answers had moved).
    for pod in release.items("pods", "-l", "app.kubernetes.io/component=predictor"):
        logged = partial(_moved_both_ways, release, pod["metadata"]["name"], champion, challenger)
        eventually(logged, 30, f"{pod['metadata']['name']} logging both moves")


def _moved_both_ways(release: Release, pod: str, champion: str, challenger: str) -> bool:
    log = release.kubectl("logs", pod)
    there = f"serving moved from v{champion} to v{challenger}"
    return there in log and f"serving moved from v{challenger} to v{champion}" in log


def _scenario(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`make drift-demo`'s population: south of 34.5 incomes doubled and prices up 25%."""
    return drifted(Settings(data={"raw_path": SHARED_DATA}), seed)


def _realized(feedback: str) -> dict[str, float]:
    """Realized RMSE per version, from `calhousing feedback`'s output."""
    found = re.findall(r"v(\d+): realized RMSE ([\d.]+)", feedback)
    return {version: float(rmse) for version, rmse in found}


def test_labelled_drift_runs_the_cronjobs_to_a_better_version_that_every_pod_serves(
    release: Release, tmp_path: Path
) -> None:
    """The loop through the CronJobs: shifted traffic and its labels, the drift Job, the retrain
    Job it starts on the labelled rows, the promotion, every pod following with no failed
    request; then new traffic of that population shows the new version really does better."""
    champion = release.alias_version()
    rows, truth = _scenario(seed=0)
    release.send(rows, "shifted")
    time.sleep(5)  # the prediction log writes in batches, at least once a second
    print(f"\n{release.feedback(labels_of('shifted', truth, LABELLED), tmp_path)}")
    release.kubectl("create", "job", f"--from=cronjob/{NAME}-drift", "manual-drift")
    log = release.wait_job("manual-drift", timeout_s=600)
    assert "MedInc" in log and "retrain: started" in log, log[-3000:]
    [retrain] = eventually(
        lambda: release.items("jobs", "-l", "calhousing.io/trigger=drift"), 60, "a retrain Job"
    )
    name = retrain["metadata"]["name"]
    assert retrain["metadata"]["ownerReferences"][0]["name"] == f"{NAME}-retrain"
    with _load(release) as load:
        log = release.wait_job(name)
        assert release.job_succeeded(name), log[-3000:]
        new = release.alias_version()
        assert new != champion, log[-3000:]
        eventually(lambda: load.serves_only(new), 120, f"every pod serving v{new}")
    print(f"\nretrain to v{new} under load: {len(load.versions)} answers, "
          f"{len(load.failures)} failed")  # fmt: skip
    assert load.failures == []
    decision = tags(release.model_version(new))
    assert decision[VersionTag.DECISION] == "promoted"
    assert decision[VersionTag.CHAMPION_VERSION] == champion
    assert int(decision[VersionTag.RECENT_ROWS]) >= 100 and decision[VersionTag.RECENT_DATA_VERSION]
    after_rows, after_truth = _scenario(seed=2)
    assert {p.model_version for p in release.send(after_rows, "after")} == {new}
    time.sleep(5)
    realized = _realized(release.feedback(labels_of("after", after_truth, LABELLED), tmp_path))
    print(f"realized RMSE on the shifted population: {realized}")
    assert realized[new] < realized[champion]


def _psql_as_predlog(release: Release, database: str) -> str:
    """psql inside the database's pod, as the prediction log's role, with its own password."""
    secret = release.get("secret", f"{NAME}-postgresql")["data"]["predlog-password"]
    login = f"PGPASSWORD={base64.b64decode(secret).decode()}"
    return release.kubectl("exec", f"{NAME}-postgresql-0", "--", "env", login, "psql",
                           "-h", "127.0.0.1", "-U", "predlog", "-d", database,
                           "-tAc", "SELECT current_user")  # fmt: skip


def test_the_prediction_log_has_its_own_role_that_cannot_open_mlflows_database(
    release: Release,
) -> None:
    assert _psql_as_predlog(release, "predictions").strip() == "predlog"
    with pytest.raises(KubeError, match="permission denied for database"):
        _psql_as_predlog(release, "mlflow")


def _predictors(release: Release) -> set[str]:
    """The predictor pods that serve: not those already terminating (their preStop pause)."""
    pods = release.items("pods", "-l", "app.kubernetes.io/component=predictor")
    return {p["metadata"]["name"] for p in pods if "deletionTimestamp" not in p["metadata"]}


def test_the_hook_made_the_database_secret_and_keeps_it_across_upgrades(release: Release) -> None:
    """The upgrade below runs the hook again: it must leave the passwords as they are."""
    secret = release.get("secret", f"{NAME}-postgresql")
    assert set(secret["data"]) == {"password", "predlog-password"}
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert not release.items("serviceaccounts", "--field-selector",
                             f"metadata.name={NAME}-secret-init")  # fmt: skip


def test_helm_upgrade_rolls_the_predictor_with_zero_failed_requests(release: Release) -> None:
    before = _predictors(release)
    passwords = release.get("secret", f"{NAME}-postgresql")["data"]
    with _load(release) as load:
        release.kube.helm("upgrade", NAME, str(CHART), "-n", release.namespace, "-f",
                          str(LOCAL_VALUES), "--set", OVERRIDES, "--set-string",
                          "serving.env.CALHOUSING_SERVE__PREDICT_THREADS=1", "--wait",
                          "--timeout", "10m", timeout=700)  # fmt: skip
        # Keep the load on until the old pods have finished terminating.
        selector = ("pods", "-l", "app.kubernetes.io/component=predictor")
        eventually(lambda: len(release.items(*selector)) == len(_predictors(release)), 180,
                   "the old predictors gone")  # fmt: skip
    after = _predictors(release)
    assert not before & after, "the upgrade rolled every predictor pod"
    assert release.get("secret", f"{NAME}-postgresql")["data"] == passwords
    print(f"\nhelm upgrade under load: {len(load.versions)} requests answered, "
          f"{len(load.failures)} failed")  # fmt: skip
    assert len(load.versions) > 50 and load.failures == []


def test_helm_uninstall_leaves_only_what_is_marked_keep(release: Release) -> None:
    release.kube.helm("uninstall", NAME, "-n", release.namespace, "--wait", timeout=600)
    selector = f"app.kubernetes.io/instance={NAME}"
    eventually(lambda: not release.items("pods", "-l", selector), 180, "the release's pods gone")
    kinds = "all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,pvc,pdb"
    for obj in release.items(kinds, "-l", selector):
        kind, meta = obj["kind"], obj["metadata"]
        kept = meta.get("annotations", {}).get("helm.sh/resource-policy") == "keep"
        # The database's claim outlives its StatefulSet, as Kubernetes keeps such claims.
        claim = kind == "PersistentVolumeClaim" and meta["name"].startswith(f"data-{NAME}-")
        assert kept or claim, f"{kind}/{meta['name']} outlived the release"
