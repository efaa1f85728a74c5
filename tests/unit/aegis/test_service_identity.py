"""SERVICE_NAME and ENVIRONMENT name the deployment in every log line and on every process's /metrics."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from aegis.errors import ConfigError
from aegis.health_server import publish_service_info
from aegis.logging import configure_logging
from aegis.settings import ServiceSettings, load_settings


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_every_log_line_names_the_service_and_its_environment(monkeypatch, capsys, restore_logging):
    monkeypatch.setenv("SERVICE_NAME", "policy-sync")
    monkeypatch.setenv("ENVIRONMENT", "staging")
    configure_logging(load_settings(env_file=None).service)
    logging.getLogger("aegis.test").warning("one line", extra={"service": "spoofed", "source": "bizinfo"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["service"], line["environment"], line["msg"], line["source"]) == ("policy-sync", "staging", "one line", "bizinfo")


def test_the_plain_format_names_them_too(capsys, restore_logging):
    configure_logging(ServiceSettings(_env_file=None, service_name="policy-sync", environment="production"),
                      json_format=False)
    logging.getLogger("aegis.test").warning("plain")
    assert "policy-sync/production" in capsys.readouterr().err


def test_every_process_metrics_carry_the_service_info():
    registry = CollectorRegistry()
    publish_service_info(registry, ServiceSettings(_env_file=None, service_name="policy-sync", environment="staging"))
    publish_service_info(registry, ServiceSettings(_env_file=None, service_name="policy-sync", environment="production"))
    text = generate_latest(registry).decode()
    assert 'aegis_service_info{environment="production",service="policy-sync"} 1.0' in text
    assert 'environment="staging"' not in text  # published again: updated, not a second series


def test_environment_is_one_of_three(monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "Prod")
    assert load_settings(env_file=None).service.is_production
    monkeypatch.setenv("ENVIRONMENT", "prodution")  # a typo must not silently mean development
    with pytest.raises(ConfigError, match="ENVIRONMENT"):
        load_settings(env_file=None)


def test_the_metrics_address_has_a_name_of_its_own_and_keeps_its_former_one(monkeypatch):
    monkeypatch.setenv("SINKS_METRICS_PORT", "19180")
    assert load_settings(env_file=None).service.metrics_port == 19180
    monkeypatch.setenv("METRICS_PORT", "19280")
    assert load_settings(env_file=None).service.metrics_port == 19280
