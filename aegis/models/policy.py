"""The normalised policy: what collectors produce and what PostgreSQL's ``policies`` row holds."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator


class PolicyStatus(str, Enum):
    PENDING_VALIDATION = "pending_validation"
    ACTIVE = "active"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class PolicyDescription(BaseModel):
    """The descriptive fields every policy model shares: collected, stored and sent to the targets."""

    executing_organization: str | None = None
    target_regions: list[str] = Field(default_factory=list)
    target_group: str | None = None
    target_industry: str | None = None
    support_field: str | None = None
    funding_type: str | None = None
    application_start_date: date | None = None
    application_end_date: date | None = None
    application_period_text: str | None = None
    application_always_open: bool = False
    original_url: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    contact_address: str | None = None


class PolicyRecord(PolicyDescription):
    """One collected policy, normalised, before it is stored (collectors build these).

    ``content_hash`` covers every normalised field and the raw payload, so an unchanged
    upstream record hashes the same and is not written again.
    """

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    source_system: str = Field(min_length=1, max_length=100)
    source_id: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=500)
    content: str = Field(min_length=1)
    issuing_organization: str = Field(min_length=1)
    attachments: list[dict[str, str]] = Field(default_factory=list)
    raw_data: dict[str, Any] = Field(default_factory=dict)
    source_updated_at: datetime | None = None

    @field_validator("target_regions")
    @classmethod
    def _dedupe_regions(cls, regions: list[str]) -> list[str]:
        return list(dict.fromkeys(r.strip() for r in regions if r and r.strip()))

    def content_hash(self) -> str:
        body = self.model_dump(mode="json")
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def debezium_date(value: Any) -> Any:
    """A DATE column's value: Debezium sends days since the epoch (an int); anything else as given.
    ``ValueError`` (which validation reports with the column's name) when out of range."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return date.fromordinal(_EPOCH_ORDINAL + value)
        except (OverflowError, ValueError):
            raise ValueError(f"{value} days since 1970-01-01 is not a date") from None
    return value


def debezium_timestamp(value: Any) -> Any:
    """A timestamp column's value: an int is microseconds since the epoch (UTC); anything else as given.
    ``ValueError`` (which validation reports with the column's name) when out of range."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1_000_000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value} µs since the epoch is not a time") from None
    return value


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class PolicyRow(PolicyDescription):
    """A ``policies`` row as stored (and as Debezium carries it in ``before``/``after``).

    Dates arrive from Debezium as days since the epoch and timestamps as ISO strings or
    microseconds; the validators accept both so one model serves SQL reads and change events.
    """

    model_config = ConfigDict(extra="ignore")

    id: int
    source_system: str
    source_id: str
    title: str
    content: str
    issuing_organization: str
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    raw_data: dict[str, Any] = Field(default_factory=dict)
    collection_metadata: dict[str, Any] = Field(default_factory=dict)
    content_hash: str
    status: PolicyStatus
    quality_score: float | None = None
    support_amount_krw: int | None = None  # 0003: most one applicant can receive, in won
    canonical_policy_id: int | None = None
    source_updated_at: datetime | None = None
    collected_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("application_start_date", "application_end_date", mode="before")
    @classmethod
    def _epoch_days(cls, value: Any) -> Any:
        return debezium_date(value)

    @field_validator("source_updated_at", "collected_at", "created_at", "updated_at", mode="before")
    @classmethod
    def _epoch_micros(cls, value: Any) -> Any:
        return debezium_timestamp(value)

    @field_validator("attachments", "raw_data", "collection_metadata", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        # Debezium sends jsonb columns as JSON text.
        return orjson.loads(value) if isinstance(value, str) else value

    @property
    def is_active(self) -> bool:
        return self.status is PolicyStatus.ACTIVE
