"""Connector profiles: the change-event encoding layered over the base template.

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
from importlib import resources

from aegis.errors import ConfigError
from connectors.config import ConnectorConfig, render

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
