"""Events for other services (seed §5.3, §7.1), written through the transactional outbox."""

from aegis.events.models import (
    DataQualityUpdated,
    DataSyncCompleted,
    OutboxEvent,
    PolicyValidated,
    QualityScorePayload,
    SyncResultPayload,
)
from aegis.events.outbox import write_event

__all__ = ["DataQualityUpdated", "DataSyncCompleted", "OutboxEvent", "PolicyValidated",
           "QualityScorePayload", "SyncResultPayload", "write_event"]
