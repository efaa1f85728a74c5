"""Reading events back from ``policy-events`` (consumers and tests): one typed model per message."""

from __future__ import annotations

import json
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict

from aegis.errors import DataError, ErrorCode
from aegis.events.models import DataQualityUpdated, DataSyncCompleted, OutboxEvent, PolicyValidated

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
                           headers: Sequence[tuple[str, bytes | None]] | None) -> PublishedEvent:
    """Decode one ``policy-events`` message; anything malformed is a ``DataError``."""
    found = {name: (raw.decode("utf-8", "replace") if raw is not None else None) for name, raw in headers or []}
    try:
        aggregate_id = json.loads(key) if key is not None else None
        payload = json.loads(value) if value is not None else None
    except (ValueError, TypeError) as exc:
        raise DataError(f"policy-events message is not JSON: {exc}", code=ErrorCode.INVALID_DATA_FORMAT) from None
    missing = [h for h in (HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, HEADER_EVENT_ID) if not found.get(h)]
    if not isinstance(aggregate_id, str) or not isinstance(payload, dict) or missing:
        raise DataError(f"policy-events message has an unexpected shape (key {key!r}, missing headers {missing})",
                        code=ErrorCode.INVALID_DATA_FORMAT)
    return PublishedEvent(aggregate_id=aggregate_id, event_id=found[HEADER_EVENT_ID],
                          event_type=found[HEADER_EVENT_TYPE], schema_version=found[HEADER_SCHEMA_VERSION],
                          payload=payload)
