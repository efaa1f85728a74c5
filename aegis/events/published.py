"""Reading events back from ``policy-events`` (consumers and tests): one typed model per message.

The topic is written in the connector's profile (``CHANGE_EVENTS_FORMAT``): in the JSON profile
the key is the aggregate id as a JSON string and the value the payload as a JSON object; in the
Avro profile both are framed Avro (through the schema registry) and the payload is JSON text
inside an Avro string (docs/avro.md). Key and value are read by the same decoder the sinks use
(``build_decoder``), so a reader built with ``published_event_decoder(settings)`` reads either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict

from aegis.changestream.avro_wire import looks_framed
from aegis.changestream.decoding import ChangeDecoder, JsonChangeDecoder, build_decoder
from aegis.errors import DataError, ErrorCode
from aegis.events.models import DataQualityUpdated, DataSyncCompleted, OutboxEvent, PolicyValidated
from aegis.settings import Settings

EVENT_TYPES: dict[str, type[OutboxEvent]] = {
    cls.event_type: cls for cls in (PolicyValidated, DataQualityUpdated, DataSyncCompleted)
}

HEADER_EVENT_TYPE = "eventType"
HEADER_SCHEMA_VERSION = "schemaVersion"
HEADER_EVENT_ID = "id"


class PublishedEvent(BaseModel):
    """An outbox event as the Outbox Event Router published it."""

    model_config = ConfigDict(frozen=True)

    aggregate_id: str
    event_id: str
    event_type: str
    schema_version: str
    payload: dict[str, Any]

    def to_model(self) -> OutboxEvent:
        """The typed event (``PolicyValidated`` …); ``DataError`` for an unknown type or bad payload."""
        cls = EVENT_TYPES.get(self.event_type)
        if cls is None:
            raise DataError(f"unknown event type {self.event_type!r}", code=ErrorCode.INVALID_DATA_FORMAT)
        try:
            return cls.model_validate(self.payload)
        except ValueError as exc:
            raise DataError(f"{self.event_type} payload does not match its model: {exc}",
                            code=ErrorCode.INVALID_DATA_FORMAT) from None


def decode_published_event(key: bytes | None, value: bytes | None,
                           headers: Sequence[tuple[str, bytes | None]] | None,
                           decoder: ChangeDecoder | None = None) -> PublishedEvent:
    """Decode one ``policy-events`` message; anything malformed is a ``DataError``.

    ``decoder`` reads key and value in the profile's encoding (default: JSON); with the Avro one a
    registry outage raises ``TransientError`` (retry later: the message is not malformed).
    """
    decoder = decoder or JsonChangeDecoder()
    found = {name: (raw.decode("utf-8", "replace") if raw is not None else None) for name, raw in headers or []}
    try:
        aggregate_id = decoder.document(key, "key")
        payload = decoder.document(value, "value")
    except DataError as exc:
        raise DataError(f"policy-events message cannot be read: {exc.message}", code=ErrorCode.INVALID_DATA_FORMAT,
                        hint=exc.hint) from None
    if isinstance(payload, str) and looks_framed(value):  # the Avro profile: the payload is JSON text
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise DataError(f"policy-events payload is not JSON text: {exc}",
                            code=ErrorCode.INVALID_DATA_FORMAT) from None
    missing = [h for h in (HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, HEADER_EVENT_ID) if not found.get(h)]
    if not isinstance(aggregate_id, str) or not isinstance(payload, dict) or missing:
        raise DataError(f"policy-events message has an unexpected shape (key {key!r}, missing headers {missing})",
                        code=ErrorCode.INVALID_DATA_FORMAT)
    return PublishedEvent(aggregate_id=aggregate_id, event_id=found[HEADER_EVENT_ID],
                          event_type=found[HEADER_EVENT_TYPE], schema_version=found[HEADER_SCHEMA_VERSION],
                          payload=payload)


PublishedEventDecoder = Callable[
    [bytes | None, bytes | None, Sequence[tuple[str, bytes | None]] | None], PublishedEvent]


def published_event_decoder(settings: Settings) -> PublishedEventDecoder:
    """``decode_published_event`` with the decoder ``CHANGE_EVENTS_FORMAT`` asks for (``build_decoder``)."""
    return partial(decode_published_event, decoder=build_decoder(settings))
