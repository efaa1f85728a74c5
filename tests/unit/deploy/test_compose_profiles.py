"""compose.yaml and its production profile (compose.production.yaml): each service gets only its own
secrets, nothing keeps a default credential, and the profile turns authentication on. (No Docker
engine here: the files are read as Compose merges them for the keys they use.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SECRET = re.compile(r"PASSWORD|TOKEN|API_KEY|SECRET")
# Aegis processes -> the secret variables each may receive
ALLOWED = {
    "connector-setup": {"POSTGRES_OWNER_PASSWORD", "POSTGRES_READER_PASSWORD"},
    "collector": {"POSTGRES_PASSWORD", "SOURCE_BIZINFO_API_KEY", "SOURCE_KSTARTUP_API_KEY", "SOURCE_YOUTHCENTER_API_KEY",
                  "SOURCE_GOV24_API_KEY"},
    "sink-search": {"SEARCH_PASSWORD", "SEARCH_API_KEY", "KAFKA_SASL_PASSWORD"},
    "sink-redis": {"REDIS_PASSWORD", "KAFKA_SASL_PASSWORD"},
    "sink-neo4j": {"NEO4J_PASSWORD", "KAFKA_SASL_PASSWORD"},
    "sink-milvus": {"MILVUS_TOKEN", "KAFKA_SASL_PASSWORD"},
    # the reconciler reads every target and the sinks' committed offsets (in-flight changes)
    "reconciler": {"POSTGRES_PASSWORD", "SEARCH_PASSWORD", "SEARCH_API_KEY", "REDIS_PASSWORD", "NEO4J_PASSWORD",
                   "MILVUS_TOKEN", "KAFKA_SASL_PASSWORD"},
    # the exporter pings every target and reads the sink groups' lag
    "pipeline-exporter": {"POSTGRES_READER_PASSWORD", "SEARCH_PASSWORD", "SEARCH_API_KEY", "REDIS_PASSWORD",
                          "NEO4J_PASSWORD", "MILVUS_TOKEN", "KAFKA_SASL_PASSWORD"},
    "connector-watchdog": set(),
}


def _load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text(encoding="utf-8"))


def _merged(*names: str) -> dict[str, dict]:
    """Services as Compose merges the files: mappings key by key (environment included), lists replaced."""
    services: dict[str, dict] = {}
    for name in names:
        for service, spec in _load(name)["services"].items():
            base = services.setdefault(service, {})
            for key, value in spec.items():
                if isinstance(value, dict) and isinstance(base.get(key), dict):
                    base[key] = {**base[key], **value}
                else:
                    base[key] = value
    return services


@pytest.mark.parametrize("files", [("compose.yaml",), ("compose.yaml", "compose.production.yaml")])
def test_each_aegis_process_receives_only_its_own_secrets(files):
    services = _merged(*files)
    for service, allowed in ALLOWED.items():
        spec = services[service]
        assert "env_file" not in spec, f"{service}: env_file hands it every secret"
        secrets = {k for k in spec.get("environment", {}) if SECRET.search(k)}
        assert secrets <= allowed, f"{service} receives {secrets - allowed}"


def test_no_aegis_process_connects_to_postgres_as_the_superuser():
    services = _merged("compose.yaml", "compose.production.yaml")
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "postgres"
    for service in ALLOWED:
        env = services[service]["environment"]
        assert "POSTGRES_SUPERUSER_PASSWORD" not in str(env)
        assert env.get("POSTGRES_USER", "${POSTGRES_USER:-aegis}") != "postgres"


def test_nothing_keeps_a_default_credential():
    for name in ("compose.yaml", "compose.production.yaml"):
        text = (REPO / name).read_text(encoding="utf-8")
        assert "minioadmin" not in text
        assert "root:Milvus\"" not in text
    minio = _merged("compose.yaml")["milvus-minio"]["environment"]
    assert minio["MINIO_ROOT_PASSWORD"].startswith("${MILVUS_MINIO_PASSWORD:?")


def test_the_production_profile_turns_authentication_on():
    services = _merged("compose.yaml", "compose.production.yaml")
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_LISTENERS"].startswith("SASL_PLAINTEXT://")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert services["elasticsearch"]["environment"]["xpack.security.enabled"] == "true"
    assert "user default off" in services["redis"]["command"][0]
    assert services["milvus"]["volumes"][-1].startswith("./deploy/milvus/user.yaml")
    for sink in ("sink-search", "sink-redis", "sink-neo4j", "sink-milvus"):
        env = services[sink]["environment"]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and env["KAFKA_SASL_USERNAME"] == "aegis-sinks"
        assert env["KAFKA_SASL_PASSWORD"] == "${KAFKA_SINKS_PASSWORD}"
    assert services["sink-redis"]["environment"]["REDIS_USERNAME"].startswith("${REDIS_USERNAME")
    connect = services["kafka-connect"]["environment"]
    assert connect["CONNECT_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and "aegis-connect" in connect["CONNECT_SASL_JAAS_CONFIG"]


def test_compose_uses_the_images_multilingual_model_by_default():
    env = _merged("compose.yaml")["sink-milvus"]["environment"]
    assert env["EMBEDDING_MODEL"] == "${EMBEDDING_MODEL:-/opt/models/paraphrase-multilingual-MiniLM-L12-v2}"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG EMBEDDING_MODEL_DIR=/opt/models/paraphrase-multilingual-MiniLM-L12-v2" in dockerfile


def test_no_secret_value_is_written_in_the_production_profile():
    text = (REPO / "compose.production.yaml").read_text(encoding="utf-8")
    for match in re.finditer(r"(?i)(password|token)\s*[:=]\s*\"?([^\s\"]+)", text):
        value = match.group(2).lstrip('\\"')
        if not value:  # a quoted printf placeholder follows (\"%s\")
            continue
        assert value.startswith(("${", "$$", "%s")) or value.endswith("PASSWORD"), match.group(0)


def test_compose_kafka_auto_creates_topics_that_take_the_largest_change_event():
    """A topic auto-created before Debezium creates it (a client asked for it first) must not be 1 MB."""
    from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES

    kafka = _load("compose.yaml")["services"]["kafka"]["environment"]
    assert int(kafka["KAFKA_MESSAGE_MAX_BYTES"]) == CHANGE_MESSAGE_MAX_BYTES
    assert int(kafka["KAFKA_REPLICA_FETCH_MAX_BYTES"]) >= CHANGE_MESSAGE_MAX_BYTES
