"""Encoding profiles: the Avro overlay on the base connector template, and how it is chosen."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from aegis.errors import ConfigError
from aegis.settings import load_settings
from connectors.config import load_connector_config
from connectors.config import FORMATS, overlay_name

AVRO_CONVERTER = "io.apicurio.registry.utils.converter.AvroConverter"


@pytest.fixture()
def settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("CHANGE_EVENTS_FORMAT", "SCHEMA_REGISTRY_URL", "SCHEMA_REGISTRY_CONNECT_URL"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(env_file=None)


def test_json_is_the_default_profile_and_the_base_template_unchanged(settings):
    config = load_connector_config(settings).config
    assert config["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert not any("apicurio" in key for key in config)
    assert load_connector_config(settings, change_format="json") == load_connector_config(settings)


def test_avro_profile_swaps_both_converters_for_the_confluent_wire_format(settings):
    json_config = load_connector_config(settings).config
    config = load_connector_config(settings, change_format="avro").config
    for side in ("key", "value"):
        prefix = f"{side}.converter"
        assert config[prefix] == AVRO_CONVERTER
        assert config[f"{prefix}.apicurio.registry.url"] == "http://127.0.0.1:28081/apis/registry/v2"
        assert config[f"{prefix}.apicurio.registry.as-confluent"] == "true"
        assert config[f"{prefix}.apicurio.registry.id-handler"].endswith(".Legacy4ByteIdHandler")  # 4-byte ids
        assert config[f"{prefix}.apicurio.registry.headers.enabled"] == "false"
        assert config[f"{prefix}.apicurio.registry.use-id"] == "contentId"
        assert config[f"{prefix}.apicurio.registry.auto-register"] == "true"
        assert f"{prefix}.schemas.enable" not in config  # a JsonConverter option: removed, not left dangling
    assert config["transforms.outbox.table.expand.json.payload"] == "false"
    untouched = {k: v for k, v in json_config.items() if "converter" not in k and "expand.json" not in k}
    assert {k: config[k] for k in untouched} == untouched


def test_the_setting_picks_the_profile_and_connect_can_reach_the_registry_elsewhere(monkeypatch, settings):
    monkeypatch.setenv("CHANGE_EVENTS_FORMAT", "avro")
    monkeypatch.setenv("SCHEMA_REGISTRY_CONNECT_URL", "http://schema-registry:8080/")
    config = load_connector_config(load_settings(env_file=None)).config
    assert config["value.converter"] == AVRO_CONVERTER
    assert config["value.converter.apicurio.registry.url"] == "http://schema-registry:8080/apis/registry/v2"


def test_an_unknown_format_is_a_config_error():
    assert FORMATS == ("json", "avro")
    with pytest.raises(ConfigError, match="unknown change-event format"):
        overlay_name("protobuf")


def test_cli_apply_print_takes_the_format(settings):
    from console.cli import cli

    result = CliRunner().invoke(cli, ["connectors", "apply", "--format", "avro", "--print"])
    assert result.exit_code == 0, result.output
    assert AVRO_CONVERTER in result.output
    assert CliRunner().invoke(cli, ["connectors", "apply", "--format", "xml", "--print"]).exit_code == 2
