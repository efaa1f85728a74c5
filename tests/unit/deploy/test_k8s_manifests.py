"""The Kubernetes manifests (deploy/k8s): every overlay renders with kustomize and is valid, strictly,
against the Kubernetes API's own OpenAPI spec and KEDA's and Strimzi's CRD schemas (fetched once by
`make k8s-tools`; offline here), and says what docs/deploy.md promises."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from deploy.k8s.tools import render_connector, validate

REPO = Path(__file__).resolve().parents[3]

SINKS = ("search", "redis", "neo4j", "milvus")
# Secrets each workload may reference (Secret name, key): each process gets only its own.
ALLOWED_SECRETS = {
    "aegis-sink-search": {("aegis-sinks", "password"), ("aegis-search", "password")},
    "aegis-sink-redis": {("aegis-sinks", "password"), ("aegis-redis", "password")},
    "aegis-sink-neo4j": {("aegis-sinks", "password"), ("aegis-neo4j", "password")},
    "aegis-sink-milvus": {("aegis-sinks", "password"), ("aegis-milvus", "token")},
    "aegis-collector": {("aegis-postgres-app", "password")} | {("aegis-source-keys", k) for k in
                                                               ("bizinfo", "kstartup", "youthcenter", "gov24")},
    "aegis-exporter": {("aegis-postgres-reader", "password")},
    "aegis-reconciler": {("aegis-postgres-app", "password"), ("aegis-search", "password"), ("aegis-redis", "password"),
                         ("aegis-neo4j", "password"), ("aegis-milvus", "token")},
    "aegis-migrate": {("aegis-postgres-owner", "password")},
    "aegis-connector-apply": {("aegis-postgres-reader", "password")},
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    try:
        return {overlay.name: validate.render(overlay) for overlay in validate.overlays()}
    except validate.SchemasMissing as exc:
        pytest.fail(f"{exc} (the Makefile's test targets run it)")


def _of(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _pod(obj: dict) -> dict:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def _workloads(objects: list[dict]) -> list[dict]:
    return [o for o in objects if o["kind"] in ("Deployment", "CronJob", "Job")]


def test_there_are_two_overlays_strimzi_and_rest_connect(rendered):
    assert set(rendered) == {"production", "production-rest-connect"}
    assert "KafkaConnector" in {o["kind"] for o in rendered["production"]}
    assert "aegis-connector-apply" in _of(rendered["production-rest-connect"], "Job")
    assert "KafkaConnector" not in {o["kind"] for o in rendered["production-rest-connect"]}


@pytest.mark.parametrize("overlay", ["production", "production-rest-connect"])
def test_every_object_is_valid_against_the_api_and_crd_schemas(rendered, overlay):
    problems = validate.validate_objects(rendered[overlay], overlay)
    assert problems == [], "\n".join(map(str, problems))


def test_the_validator_refuses_unknown_fields_wrong_types_and_unknown_kinds(rendered):
    objects = copy.deepcopy(rendered["production"])
    sink = _of(objects, "Deployment")["aegis-sink-search"]
    sink["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/health"
    sink["spec"]["replicas"] = "two"
    _of(objects, "CronJob")["aegis-reconciler"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
        "resources"]["limits"]["cpu"] = "lots"
    _of(objects, "ScaledObject")["aegis-sink-redis"]["spec"]["maxReplicaCont"] = 6
    _of(objects, "KafkaConnector")["aegis-policies-source"]["spec"]["tasksMax"] = "one"
    objects.append({"apiVersion": "example.com/v1", "kind": "Nothing", "metadata": {"name": "x"}})
    found = {(p.kind, p.path.split("/")[-1] or p.message[:20]) for p in validate.validate_objects(objects, "broken")}
    assert ("Deployment", "httpGet") in found  # the unknown field 'paht'
    assert ("Deployment", "replicas") in found
    assert ("CronJob", "cpu") in found
    assert ("ScaledObject", "spec") in found
    assert ("KafkaConnector", "tasksMax") in found
    assert any(kind == "Nothing" for kind, _ in found)


@pytest.mark.parametrize("overlay", ["production", "production-rest-connect"])
def test_sinks_collector_and_exporter_are_deployments_with_probes_on_their_endpoints(rendered, overlay):
    deployments = _of(rendered[overlay], "Deployment")
    assert set(deployments) == {*(f"aegis-sink-{s}" for s in SINKS), "aegis-collector", "aegis-exporter"}
    for name, deployment in deployments.items():
        container = _pod(deployment)["containers"][0]
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        if name == "aegis-exporter":  # it serves /metrics only
            assert live["path"] == ready["path"] == "/metrics"
        else:
            assert (live["path"], ready["path"]) == ("/health", "/health/ready")
        assert live["port"] == "metrics" and container["ports"][0]["containerPort"] == 9100
    for sink in SINKS:
        assert _pod(deployments[f"aegis-sink-{sink}"])["containers"][0]["args"] == ["sinks", "run", sink]
    collector = _pod(deployments["aegis-collector"])["containers"][0]["args"]
    assert collector[:2] == ["collect", "--schedule"] and "--metrics-port" in collector


def test_reconciler_is_an_hourly_cronjob_that_never_overlaps(rendered):
    cron = _of(rendered["production"], "CronJob")["aegis-reconciler"]
    assert cron["spec"]["schedule"] == "0 * * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert _pod(cron)["containers"][0]["args"] == ["reconcile", "--once"]


def test_collector_schedule_is_six_hourly_apis_and_daily_boards(rendered):
    config = _of(rendered["production"], "ConfigMap")
    settings = next(c for name, c in config.items() if name.startswith("aegis-config"))["data"]
    assert settings["COLLECTION_INTERVAL_HOURS"] == "6" and settings["SCRAPING_INTERVAL_HOURS"] == "24"
    from collectors.scheduler import KST_ZONE
    assert KST_ZONE == "Asia/Seoul"  # boards at 00:00 KST whatever the node's zone


def test_every_configured_variable_is_a_real_setting(rendered):
    from aegis.settings import environment_variables, setting_groups

    known = {name for group in setting_groups().values() for name in environment_variables(group).values()}
    for overlay, objects in rendered.items():
        config = next(c for c in objects if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("aegis-config"))
        unknown = set(config["data"]) - known - {"HF_HOME", "HOME"}  # the libraries' caches: writable /tmp
        assert unknown == set(), f"{overlay}: not settings: {unknown}"


@pytest.mark.parametrize("overlay", ["production", "production-rest-connect"])
def test_every_workload_gets_only_its_own_secrets_by_reference(rendered, overlay):
    objects = rendered[overlay]
    assert "Secret" not in {o["kind"] for o in objects}  # created out of band, referenced here
    for workload in _workloads(objects):
        name = workload["metadata"]["name"]
        referenced = set()
        for container in _pod(workload)["containers"] + _pod(workload).get("initContainers", []):
            assert not any("value" in e and any(w in e["name"] for w in ("PASSWORD", "TOKEN", "KEY"))
                           for e in container.get("env", [])), f"{name}: a literal secret"
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
        assert referenced <= ALLOWED_SECRETS[name], f"{name} references {referenced - ALLOWED_SECRETS[name]}"
        assert _pod(workload)["automountServiceAccountToken"] is False


@pytest.mark.parametrize("overlay", ["production", "production-rest-connect"])
def test_every_container_has_requests_and_limits_and_every_deployment_a_pdb(rendered, overlay):
    objects = rendered[overlay]
    for workload in _workloads(objects):
        for container in _pod(workload)["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    pdbs = _of(objects, "PodDisruptionBudget")
    for name, deployment in _of(objects, "Deployment").items():
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", ["production", "production-rest-connect"])
def test_each_sink_scales_on_its_own_group_lag_up_to_the_partition_count(rendered, overlay):
    from aegis.settings import load_settings

    settings = load_settings(env_file=None)
    objects = rendered[overlay]
    scaled = _of(objects, "ScaledObject")
    assert set(scaled) == {f"aegis-sink-{s}" for s in SINKS}
    topics = _of(rendered["production"], "KafkaTopic")
    partitions = topics["aegis.public.policies"]["spec"]["partitions"]
    for sink in SINKS:
        spec = scaled[f"aegis-sink-{sink}"]["spec"]
        trigger = spec["triggers"][0]
        assert spec["scaleTargetRef"]["name"] == f"aegis-sink-{sink}"
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == f"{settings.sinks.group_id_prefix}{sink}"
        assert trigger["metadata"]["topic"] == settings.sinks.topic(settings.kafka)
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        assert spec["minReplicaCount"] == 1 and spec["maxReplicaCount"] == partitions
        assert trigger["authenticationRef"]["name"] in _of(objects, "TriggerAuthentication")


def test_the_kafka_connector_resource_is_the_rendered_connector_template():
    committed = (REPO / "deploy" / "k8s" / "components" / "strimzi" / "kafkaconnector.yaml").read_text(encoding="utf-8")
    assert committed == render_connector.render_kafka_connector(), \
        "run .venv/bin/python deploy/k8s/tools/render_connector.py"
    resource = yaml.safe_load(committed)
    assert resource["spec"]["config"]["database.password"] == "${env:AEGIS_DEBEZIUM_PASSWORD}"
