"""Rendering the committed connector template from settings.

The template (``policies-source.json`` beside this module) holds ``{{variable}}`` placeholders
for everything that differs between deployments and Kafka Connect config-provider references
(``${env:AEGIS_DEBEZIUM_PASSWORD}``) for secrets, so the committed file never holds a secret and
the rendered config never does either: the worker resolves the reference itself.

**Profiles**: the change-event encoding layered over the base template.

``policies-source.json`` is the JSON profile (the default). Another profile is an overlay file
beside it, ``policies-source.<format>.json``, in the same ``{name, config}`` shape and with the
same ``{{variable}}`` placeholders; its properties replace the base ones, and a property set to
``null`` removes the base one. ``CHANGE_EVENTS_FORMAT`` picks the profile;
``aegis connectors apply --format`` overrides it.

The Avro profile (docs/avro.md) swaps both converters for Apicurio Registry's ``AvroConverter``
writing the Confluent wire format (magic byte 0, 4-byte content id, Avro binary), so
confluent-kafka's schema-registry client reads the ids through the registry's Confluent-compatible
API. It keeps outbox payloads as JSON text inside an Avro string (``expand.json.payload=false``):
one stable schema for every event type on ``policy-events``.
"""

from __future__ import annotations

import json
import re
from importlib import resources

from pydantic import BaseModel, ConfigDict

from aegis.errors import ConfigError
from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES
from aegis.settings import Settings

TEMPLATE = "policies-source.json"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


class ConnectorConfig(BaseModel):
    """A connector as Kafka Connect's REST API takes it: a name and flat string properties."""

    model_config = ConfigDict(frozen=True)

    name: str
    config: dict[str, str]

    @property
    def connector_class(self) -> str:
        return self.config["connector.class"]


def template_variables(settings: Settings) -> dict[str, str]:
    """The values the template's placeholders are filled with."""
    pg, kafka, connector = settings.postgres, settings.kafka, settings.connector
    return {
        "connector_name": connector.name,
        "database_host": connector.database_host or pg.host,
        "database_port": str(connector.database_port or pg.port),
        "database_user": pg.debezium_user,
        "database_name": pg.db,
        "slot_name": pg.slot_name,
        "publication_name": pg.publication,
        "topic_prefix": kafka.topic_prefix,
        "topic_prefix_regex": re.escape(kafka.topic_prefix),
        "policy_events_topic": kafka.topic_policy_events,
        "snapshot_mode": connector.snapshot_mode,
        "heartbeat_interval_ms": str(connector.heartbeat_interval_ms),
        "poll_interval_ms": str(connector.poll_interval_ms),
        "max_batch_size": str(connector.max_batch_size),
        "max_queue_size": str(connector.max_queue_size),
        "producer_linger_ms": str(connector.producer_linger_ms),
        "change_topic_partitions": str(kafka.change_topic_partitions),  # connectors/topics.py creates it first
        "change_message_max_bytes": str(CHANGE_MESSAGE_MAX_BYTES),  # the largest record twice, and room (limits.py)
        "schema_registry_url": settings.schema_registry.converter_url,  # the Avro profile (below)
    }


def render(template_text: str, variables: dict[str, str]) -> ConnectorConfig:
    """Fill every ``{{name}}`` in ``template_text``; an unknown name is a ``ConfigError``."""
    document = json.loads(template_text)

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            if match[1] not in variables:
                raise ConfigError(f"connector template uses an unknown variable {{{{{match[1]}}}}}",
                                  hint=f"known variables: {', '.join(sorted(variables))}")
            return variables[match[1]]
        return _PLACEHOLDER.sub(one, text)

    return ConnectorConfig(name=fill(document["name"]),
                           config={key: fill(str(value)) for key, value in document["config"].items()})


FORMATS: tuple[str, ...] = ("json", "avro")


def overlay_name(change_format: str) -> str | None:
    """The overlay file of a profile (None for the JSON base profile)."""
    if change_format not in FORMATS:
        raise ConfigError(f"unknown change-event format {change_format!r}", hint=f"use one of: {', '.join(FORMATS)}")
    return None if change_format == "json" else f"policies-source.{change_format}.json"


def overlay_text(change_format: str) -> str | None:
    name = overlay_name(change_format)
    return None if name is None else resources.files("connectors").joinpath(name).read_text("utf-8")


def apply_profile(config: ConnectorConfig, change_format: str, variables: dict[str, str]) -> ConnectorConfig:
    """``config`` (the rendered base template) with the ``change_format`` profile's overlay applied."""
    text = overlay_text(change_format)
    if text is None:
        return config
    document = json.loads(text)
    removed = [key for key, value in document["config"].items() if value is None]
    document["config"] = {key: value for key, value in document["config"].items() if value is not None}
    overlay = render(json.dumps(document), variables)
    merged = {key: value for key, value in config.config.items() if key not in removed}
    merged.update(overlay.config)
    return ConnectorConfig(name=config.name, config=merged)


def load_connector_config(settings: Settings, overrides: dict[str, str] | None = None, *,
                          change_format: str | None = None) -> ConnectorConfig:
    """The policies source connector for these settings, with optional property ``overrides`` (benchmarks).

    ``change_format`` (default ``CHANGE_EVENTS_FORMAT``) picks the encoding profile (below).
    """
    text = resources.files("connectors").joinpath(TEMPLATE).read_text("utf-8")
    variables = template_variables(settings)
    rendered = apply_profile(render(text, variables), change_format or settings.change_events.format, variables)
    if overrides:
        rendered = ConnectorConfig(name=rendered.name, config={**rendered.config, **overrides})
    return rendered
