"""Values do what a user expects, and the schema refuses what cannot work with a message that
names the key."""

import json
from typing import Any

import helm_python
import pytest

from tests.chart.manifests import kinds, one, pod_templates, render


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def mlflow_env(values: dict[str, Any], release: str = "calhousing") -> dict[str, Any]:
    docs = render(values, release)
    deployment = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-mlflow")
    )
    return _env(deployment["spec"]["template"]["spec"]["containers"][0])


def test_serving_replicas_reach_the_autoscaler_in_both_modes() -> None:
    plain = render({"serving": {"mode": "plain", "replicas": 3, "maxReplicas": 5}})
    # The HPA owns the count: a rendered one would reset it on every upgrade.
    assert "replicas" not in one(plain, "Deployment", "calhousing-predictor")["spec"]
    assert one(plain, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    assert one(plain, "HorizontalPodAutoscaler")["spec"]["maxReplicas"] == 5
    kserve = one(render({"serving": {"replicas": 3, "maxReplicas": 5}}), "InferenceService")[
        "spec"
    ]["predictor"]
    assert (kserve["minReplicas"], kserve["maxReplicas"]) == (3, 5)


def test_switching_the_serving_mode_swaps_kserve_for_a_deployment() -> None:
    kserve, plain = (
        kinds(render({"serving": {"mode": "kserve"}})),
        kinds(render({"serving": {"mode": "plain"}})),
    )
    assert {"InferenceService", "ServingRuntime"} <= kserve - plain
    assert {"HorizontalPodAutoscaler"} <= plain - kserve
    assert "calhousing-predictor" in [
        d["metadata"]["name"]
        for d in render({"serving": {"mode": "plain"}})
        if d["kind"] == "Service"
    ]


def test_a_single_replica_gets_no_disruption_budget() -> None:
    assert "PodDisruptionBudget" not in kinds(render({"serving": {"replicas": 1}}))


def test_the_ingress_host_reaches_rules_and_tls() -> None:
    docs = render(
        {"ingress": {"rest": {"host": "api.example.com"}, "grpc": {"host": "grpc.example.com"}}}
    )
    assert one(docs, "Ingress", "calhousing-rest")["spec"]["rules"][0]["host"] == "api.example.com"
    grpc = one(docs, "Ingress", "calhousing-grpc")
    assert grpc["spec"]["rules"][0]["host"] == "grpc.example.com"
    assert grpc["spec"]["tls"] == [
        {"hosts": ["grpc.example.com"], "secretName": "calhousing-grpc-tls"}
    ]
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"


def test_cert_manager_fills_the_grpc_certificate_when_an_issuer_is_named() -> None:
    grpc = one(
        render({"ingress": {"grpc": {"clusterIssuer": "letsencrypt"}}}),
        "Ingress",
        "calhousing-grpc",
    )
    assert grpc["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"


def test_cert_manager_fills_the_rest_certificate_when_an_issuer_is_named() -> None:
    tls = {"tlsSecretName": "calhousing-rest-tls", "clusterIssuer": "letsencrypt"}
    rest = one(render({"ingress": {"rest": tls}}), "Ingress", "calhousing-rest")

    assert rest["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert rest["spec"]["tls"] == [
        {"hosts": ["calhousing.localtest.me"], "secretName": "calhousing-rest-tls"}
    ]


def test_mlflow_is_private_unless_asked() -> None:
    assert [d["metadata"]["name"] for d in render({}) if d["kind"] == "Ingress"] == [
        "calhousing-grpc",
        "calhousing-rest",
    ]
    exposed = render({"mlflow": {"ingress": {"enabled": True, "host": "mlflow.example.com"}}})
    assert (
        one(exposed, "Ingress", "calhousing-mlflow")["spec"]["rules"][0]["host"]
        == "mlflow.example.com"
    )
    assert "mlflow.example.com" in json.loads(
        mlflow_env({"mlflow": {"ingress": {"enabled": True, "host": "mlflow.example.com"}}})[
            "CALHOUSING_MLFLOW__ALLOWED_HOSTS"
        ]
    )


def test_the_default_backend_is_the_bundled_postgresql() -> None:
    docs = render({})
    assert one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ].startswith("docker.io/library/postgres:")
    env = mlflow_env({})
    assert (
        env["CALHOUSING_MLFLOW__BACKEND_STORE_URI"]
        == "postgresql://mlflow:$(POSTGRES_PASSWORD)@calhousing-postgresql:5432/mlflow"
    )
    assert env["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": "calhousing-postgresql", "key": "password"}
    }
    # The hook that creates that Secret once (tests/chart/test_secrets.py).
    init = one(docs, "Job", "calhousing-secret-init")["spec"]["template"]["spec"]
    assert "calhousing-postgresql" in init["containers"][0]["args"]


def test_an_external_database_comes_from_a_secret_and_drops_the_statefulset() -> None:
    values = {
        "mlflow": {
            "backend": {
                "type": "external",
                "external": {"existingSecret": "rds", "cidr": "10.0.0.0/16"},
            }
        }
    }
    docs = render(values)
    assert not {"StatefulSet", "Secret"} & kinds(docs)
    assert mlflow_env(values)["CALHOUSING_MLFLOW__BACKEND_STORE_URI"] == {
        "secretKeyRef": {"name": "rds", "key": "uri"}
    }
    egress = one(docs, "NetworkPolicy", "calhousing-mlflow")["spec"]["egress"]
    assert egress == [
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"port": 5432, "protocol": "TCP"}]}
    ]


def test_sqlite_lives_on_the_artifacts_volume() -> None:
    values = {"mlflow": {"backend": {"type": "sqlite"}}}
    assert "StatefulSet" not in kinds(render(values))
    assert mlflow_env(values)["CALHOUSING_MLFLOW__BACKEND_STORE_URI"] == "sqlite:////data/mlflow.db"


def test_basic_auth_reaches_the_server_and_every_client() -> None:
    values = {"mlflow": {"auth": {"enabled": True, "existingSecret": "mlflow-admin"}}}
    env = mlflow_env(values)
    assert env["CALHOUSING_MLFLOW__APP_NAME"] == "basic-auth"
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] == {
        "secretKeyRef": {"name": "mlflow-admin", "key": "password"}
    }
    # basic-auth refuses to start without it (tests/integration/test_mlflow_auth.py sets it too)
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] == {
        "secretKeyRef": {"name": "mlflow-admin", "key": "flask-secret-key"}
    }
    train = one(render(values), "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert _env(train)["MLFLOW_TRACKING_PASSWORD"] == {
        "secretKeyRef": {"name": "mlflow-admin", "key": "password"}
    }


@pytest.mark.parametrize("release", ["calhousing", "demo", "calhousing-staging"])
def test_mlflow_accepts_the_host_its_clients_call(release: str) -> None:
    docs = render({}, release)
    cronjob = next(d for d in docs if d["kind"] == "CronJob")
    assert cronjob["metadata"]["name"].endswith("-retrain")
    client = _env(cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])
    host = client["CALHOUSING_MLFLOW__TRACKING_URI"].removeprefix("http://")
    assert host in json.loads(mlflow_env({}, release)["CALHOUSING_MLFLOW__ALLOWED_HOSTS"])


def test_extra_env_reaches_training_as_strings() -> None:
    docs = render(
        {
            "training": {
                "env": {"CALHOUSING_TRAIN__N_JOBS": "2"},
                "dataSource": "https://example.com/x.csv",
            }
        }
    )
    train = _env(
        one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    )
    assert train["CALHOUSING_TRAIN__N_JOBS"] == "2"
    assert train["CALHOUSING_DATA__SOURCE"] == "https://example.com/x.csv"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        (
            {"serving": {"mode": "knative"}},
            "/serving/mode': value must be one of 'kserve', 'plain'",
        ),
        (
            {
                "mlflow": {
                    "backend": {"type": "sqlite"},
                    "replicas": 2,
                    "artifacts": {"accessMode": "ReadWriteMany"},
                }
            },
            "/mlflow/replicas': value must be 1",
        ),
        (
            {"mlflow": {"replicas": 2}},
            "/mlflow/artifacts/accessMode': value must be 'ReadWriteMany'",
        ),
        (
            {"mlflow": {"backend": {"type": "external"}}},
            "/mlflow/backend/external/existingSecret': minLength",
        ),
        ({"mlflow": {"auth": {"enabled": True}}}, "/mlflow/auth/existingSecret': minLength"),
        ({"mlflow": {"ingress": {"enabled": True}}}, "/mlflow/ingress/host': minLength"),
        ({"ingress": {"grpc": {"tlsSecretName": ""}}}, "/ingress/grpc/tlsSecretName': minLength"),
        (
            {"ingress": {"rest": {"clusterIssuer": "letsencrypt"}}},
            "/ingress/rest/tlsSecretName': minLength",
        ),
        ({"ingress": {"rest": {"host": "https://x.example.com/"}}}, "/ingress/rest/host'"),
        (
            {"training": {"resources": {"limits": None}}},
            "/training/resources': missing property 'limits'",
        ),
        ({"training": {"schedule": "every day"}}, "/training/schedule'"),
        ({"runAsUser": 0}, "/runAsUser': minimum"),
        ({"drift": {"consecutive": 0}}, "/drift/consecutive': minimum"),
    ],
)
def test_the_schema_refuses_impossible_values_by_name(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as err:
        render(values)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"serving": {"replicas": 5, "maxReplicas": 4}},
            "serving.replicas (5) must not exceed serving.maxReplicas (4)",
        ),
        (
            {"serving": {"replicas": 2, "minAvailable": 2}},
            "serving.minAvailable (2) must be below serving.replicas (2)",
        ),
    ],
)
def test_cross_field_rules_fail_the_render_with_a_message(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(
        helm_python.HelmRenderError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        render(values)


@pytest.mark.parametrize("mode", ["plain", "kserve"])
def test_every_predictor_follows_the_alias_at_the_period_set(mode: str) -> None:
    docs = render({"serving": {"mode": mode, "followAliasSeconds": 12}})
    [predictor] = [
        t for t in pod_templates(docs) if t.labels["app.kubernetes.io/component"] == "predictor"
    ]
    env = {e["name"]: e.get("value") for e in predictor.spec["containers"][0]["env"]}
    assert env["CALHOUSING_SERVE__FOLLOW_ALIAS_S"] == "12"
