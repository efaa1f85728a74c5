"""compose.yaml is valid: `docker compose config` where the plugin exists, else the Compose
Specification's JSON Schema (from compose-go, through the Go module proxy)."""

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_GO = "github.com/compose-spec/compose-go/v2@v2.16.2"


def _docker_compose_available() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0


def _compose_spec_schema() -> dict:
    if shutil.which("go") is None:
        pytest.fail("neither `docker compose` nor `go` is available to validate compose.yaml")
    result = subprocess.run(["go", "mod", "download", "-json", COMPOSE_GO], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    directory = Path(json.loads(result.stdout)["Dir"])
    return json.loads((directory / "schema" / "compose-spec.json").read_text())


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_is_valid():
    if _docker_compose_available():
        env = {"POSTGRES_PASSWORD": "x", "POSTGRES_DEBEZIUM_PASSWORD": "y", "NEO4J_PASSWORD": "neo4j-password"}
        result = subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
                                capture_output=True, text=True, env={**__import__("os").environ, **env})
        assert result.returncode == 0, result.stderr
        return
    schema = _compose_spec_schema()
    jsonschema.validate(_compose(), schema)


def test_the_production_profile_is_valid():
    """compose.production.yaml, the override file of the production profile (docs/deploy.md)."""
    jsonschema.validate(yaml.safe_load((ROOT / "compose.production.yaml").read_text()), _compose_spec_schema())


def test_every_long_running_service_has_a_healthcheck_and_restart_policy():
    for name, service in _compose()["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot jobs
        assert "healthcheck" in service, name
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name


def test_no_secret_is_written_in_the_file():
    text = (ROOT / "compose.yaml").read_text()
    for line in text.splitlines():
        if "PASSWORD" in line and ":" in line and not line.strip().startswith("#"):
            value = line.split(":", 1)[1].strip()
            assert value.startswith("${") or value.startswith("$${") or value == "", line


def test_infrastructure_matches_the_native_stack():
    services = _compose()["services"]
    assert {"postgres", "redis", "kafka", "kafka-connect"} <= set(services)
    assert "wal_level=logical" in services["postgres"]["command"]
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
