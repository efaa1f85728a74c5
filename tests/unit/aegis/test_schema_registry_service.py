"""The schema registry is an optional stack service: started without names only when asked for."""

from __future__ import annotations

import pytest

from aegis.settings import load_settings
from devstack.manager import StackManager
from devstack.schema_registry import SchemaRegistry


@pytest.fixture()
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("CHANGE_EVENTS_FORMAT", "SCHEMA_REGISTRY_IN_STACK", "SCHEMA_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AEGIS_STACK_STATE_DIR", str(tmp_path / "stack"))
    return monkeypatch


def _default_names() -> list[str]:
    return [s.name for s in StackManager(load_settings(env_file=None)).select(None)]


def test_not_in_the_default_set_unless_asked_for(clean_env):
    assert "schema-registry" not in _default_names()
    clean_env.setenv("SCHEMA_REGISTRY_IN_STACK", "true")
    assert "schema-registry" in _default_names()


def test_the_avro_profile_brings_it_into_the_default_set(clean_env):
    clean_env.setenv("CHANGE_EVENTS_FORMAT", "avro")
    names = _default_names()
    assert names.index("schema-registry") < names.index("kafka-connect")  # up before Connect, down after


def test_naming_it_selects_it_and_stopping_everything_includes_it(clean_env):
    manager = StackManager(load_settings(env_file=None))
    assert [s.name for s in manager.select(["schema-registry"])] == ["schema-registry"]
    assert "schema-registry" in [s.name for s in manager.select(None, optional=True)]
    assert "schema-registry" not in [s.name for s in manager.status()]  # not started: not listed as down


def test_it_listens_on_the_port_of_its_url_on_loopback_with_file_storage(clean_env):
    clean_env.setenv("SCHEMA_REGISTRY_URL", "http://127.0.0.1:28781")
    service = SchemaRegistry(load_settings(env_file=None))
    env = service.env()
    assert service.port == 28781 and env["HTTP_PORT"] == "28781"
    assert env["REGISTRY_DATASOURCE_URL"].startswith(f"jdbc:h2:file:{service.dir}")
    assert "-Dquarkus.http.host=127.0.0.1" in service.jvm_flags()
