"""Events for other services (seed §5.3, §7.1), written through the transactional outbox."""

from aegis.events.models import (
    DataQualityUpdated,
    DataSyncCompleted,
    OutboxEvent,
    PolicyValidated,
    QualityScorePayload,
    SyncResultPayload,
)
from aegis.events.outbox import validate_payload, write_event, write_events
from aegis.events.published import PublishedEvent, decode_published_event, published_event_decoder

__all__ = ["DataQualityUpdated", "DataSyncCompleted", "OutboxEvent", "PolicyValidated", "PublishedEvent",
           "QualityScorePayload", "SyncResultPayload", "decode_published_event", "published_event_decoder",
           "validate_payload", "write_event", "write_events"]
