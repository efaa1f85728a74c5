"""Rendering the committed connector template from settings.

The template (``policies-source.json`` beside this module) holds ``{{variable}}`` placeholders
for everything that differs between deployments and Kafka Connect config-provider references
(``${env:AEGIS_DEBEZIUM_PASSWORD}``) for secrets, so the committed file never holds a secret and
the rendered config never does either: the worker resolves the reference itself.
"""

from __future__ import annotations

import json
import re
from importlib import resources

from pydantic import BaseModel, ConfigDict

from aegis.errors import ConfigError
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
        "schema_registry_url": settings.schema_registry.converter_url,  # the Avro profile (connectors/profiles.py)
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


def load_connector_config(settings: Settings, overrides: dict[str, str] | None = None, *,
                          change_format: str | None = None) -> ConnectorConfig:
    """The policies source connector for these settings, with optional property ``overrides`` (benchmarks).

    ``change_format`` (default ``CHANGE_EVENTS_FORMAT``) picks the encoding profile (connectors/profiles.py).
    """
    from connectors.profiles import apply_profile

    text = resources.files("connectors").joinpath(TEMPLATE).read_text("utf-8")
    variables = template_variables(settings)
    rendered = apply_profile(render(text, variables), change_format or settings.change_events.format, variables)
    if overrides:
        rendered = ConnectorConfig(name=rendered.name, config={**rendered.config, **overrides})
    return rendered
