"""Typed outbox events. Each has a type, a schema version and a JSON Schema file it must satisfy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxEvent(BaseModel):
    """Base of every event published on ``policy-events`` through the outbox."""

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[str] = "1.0"
    schema_file: ClassVar[str]

    def aggregate_id(self) -> str:
        """The Kafka message key (the policy id, or the sync id for pass-wide events)."""
        raise NotImplementedError

    def payload(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


class PolicyValidated(OutboxEvent):
    event_type: ClassVar[str] = "policy.validated"
    schema_file: ClassVar[str] = "policy.validated.v1.json"

    policy_id: str
    title: str
    content: str
    issuing_organization: str
    processing_path: Literal["hot", "cold"] = "hot"
    source_system: str | None = None
    collected_at: datetime | None = None
    validated_at: datetime = Field(default_factory=_now)

    def aggregate_id(self) -> str:
        return self.policy_id


class QualityScorePayload(BaseModel):
    total_score: float = Field(ge=0, le=1)
    completeness: float = Field(ge=0, le=1)
    accuracy: float = Field(ge=0, le=1)
    consistency: float = Field(ge=0, le=1)
    timeliness: float = Field(ge=0, le=1)


class DataQualityUpdated(OutboxEvent):
    event_type: ClassVar[str] = "data.quality_updated"
    schema_file: ClassVar[str] = "data.quality_updated.v1.json"

    policy_id: str
    quality_score: QualityScorePayload
    status: Literal["active", "rejected", "archived"]
    updated_at: datetime = Field(default_factory=_now)

    def aggregate_id(self) -> str:
        return self.policy_id


class SyncResultPayload(BaseModel):
    """One target of a reconcile pass. ``success``: a fresh read showed it equal to PostgreSQL."""

    target_db: str
    success: bool
    records_synced: int
    status: str | None = None            # the pass's word for the target (consistent, lagging, repaired, ...)
    verified_records: int | None = None  # records the target's checksums (or reads) matched
    deep_verified_records: int | None = None  # of those, compared field by field as a reader sees them
    in_flight: int | None = None         # differences left to the change stream (not verified)


class DataSyncCompleted(OutboxEvent):
    event_type: ClassVar[str] = "data.sync_completed"
    schema_file: ClassVar[str] = "data.sync_completed.v1.json"

    sync_id: str
    target_databases: list[str]
    policies_synced: int
    sync_results: list[SyncResultPayload] = Field(default_factory=list)
    synced_at: datetime = Field(default_factory=_now)

    def aggregate_id(self) -> str:
        return self.sync_id
