"""The committed connector template and its rendering from settings."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from aegis.errors import ConfigError
from aegis.settings import load_settings
from connectors.config import TEMPLATE, load_connector_config, render


@pytest.fixture()
def settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("POSTGRES_PORT", "KAFKA_TOPIC_PREFIX", "AEGIS_CONNECTOR_POLL_INTERVAL_MS", "KAFKA_CHANGE_TOPIC_PARTITIONS"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(env_file=None)


def test_template_holds_no_secret_and_reads_the_password_through_the_env_provider():
    config = json.loads(resources.files("connectors").joinpath(TEMPLATE).read_text("utf-8"))["config"]
    assert config["database.password"] == "${env:AEGIS_DEBEZIUM_PASSWORD}"
    secret_keys = [k for k in config if any(w in k for w in ("password", "secret", "credential", "token"))]
    assert secret_keys and all(re.fullmatch(r"\$\{(env|file):[^}]+\}", config[k]) for k in secret_keys)


def test_rendered_config_never_contains_the_password(settings, monkeypatch):
    monkeypatch.setenv("POSTGRES_DEBEZIUM_PASSWORD", "s3cret-Value-42")
    rendered = json.dumps(load_connector_config(load_settings(env_file=None)).model_dump())
    assert "s3cret-Value-42" not in rendered and "${env:AEGIS_DEBEZIUM_PASSWORD}" in rendered


def test_rendered_config_is_the_documented_connector(settings):
    config = load_connector_config(settings).config
    assert config["plugin.name"] == "pgoutput"
    assert config["slot.name"] == settings.postgres.slot_name
    assert config["publication.name"] == settings.postgres.publication
    assert config["publication.autocreate.mode"] == "disabled"
    assert config["table.include.list"] == "public.policies,public.outbox"
    assert config["snapshot.mode"] == "initial" and config["tombstones.on.delete"] == "true"
    assert config["heartbeat.action.query"].startswith("SELECT pg_logical_emit_message(")
    assert config["key.converter.schemas.enable"] == config["value.converter.schemas.enable"] == "false"
    assert config["transforms.outbox.route.topic.replacement"] == "policy-events"
    assert "type:header:eventType" in config["transforms.outbox.table.fields.additional.placement"]
    assert "schema_version:header:schemaVersion" in config["transforms.outbox.table.fields.additional.placement"]
    assert re.fullmatch(config["predicates.isOutbox.pattern"], "aegis.public.outbox")
    assert not re.fullmatch(config["predicates.isOutbox.pattern"], "aegis.public.policies")
    assert all(isinstance(v, str) and "{{" not in v for v in config.values())


def test_settings_flow_into_the_config(settings, monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "a.b")
    monkeypatch.setenv("AEGIS_CONNECTOR_POLL_INTERVAL_MS", "100")
    monkeypatch.setenv("KAFKA_CHANGE_TOPIC_PARTITIONS", "12")
    config = load_connector_config(load_settings(env_file=None), {"max.batch.size": "7"}).config
    assert config["topic.prefix"] == "a.b" and config["poll.interval.ms"] == "100"
    assert config["topic.creation.changes.partitions"] == "12"
    assert config["max.batch.size"] == "7"
    assert re.fullmatch(config["predicates.isOutbox.pattern"], "a.b.public.outbox")
    assert not re.fullmatch(config["predicates.isOutbox.pattern"], "axb.public.outbox")  # dot escaped


def test_unknown_placeholder_is_a_config_error():
    with pytest.raises(ConfigError, match="nope"):
        render('{"name": "x", "config": {"a": "{{nope}}"}}', {"known": "1"})


def test_invalid_snapshot_mode_is_refused_at_load(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AEGIS_CONNECTOR_SNAPSHOT_MODE", "sometimes")
    with pytest.raises(ConfigError, match="AEGIS_CONNECTOR_SNAPSHOT_MODE"):
        load_settings(env_file=None)
