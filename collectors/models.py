"""Typed values passed between the collector's parts (fetch -> map -> store -> summary)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aegis.models.policy import PolicyRecord


class RawItem(BaseModel):
    """One record exactly as the source sent it (after format decoding: JSON object, XML fields)."""

    model_config = ConfigDict(frozen=True)

    source_id: str | None
    payload: dict[str, Any]


class FetchedPage(BaseModel):
    """One page of a source's listing."""

    number: int
    items: list[RawItem]
    total: int | None = None  # how many the source says exist, when it says
    request_url: str | None = None  # the request that fetched it (lineage; credentials are redacted when stored)


class Rejection(BaseModel):
    """A record that failed validation: stored whole in ``dead_letters``, never dropped."""

    source_id: str | None
    error_code: str = Field(pattern=r"^DP_2\d{3}$")
    reason: str
    raw_payload: dict[str, Any]


class MappedPage(BaseModel):
    """A page after mapping: the valid records and the rejected ones."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    number: int
    records: list[PolicyRecord]
    rejections: list[Rejection]


class BatchOutcome(BaseModel):
    """What one stored batch (one transaction) did."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    changed_ids: list[int] = Field(default_factory=list)  # policy ids that got an event (new or changed)


class SourceError(BaseModel):
    code: str
    message: str
    hint: str | None = None


class SourceSummary(BaseModel):
    """Per-source result of one collection pass."""

    source: str
    pages: int = 0
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    seconds: float = 0.0
    using_samples: bool = False
    skipped: str | None = None  # why the source was not called at all (quota window, open circuit)
    error: SourceError | None = None

    def add(self, outcome: BatchOutcome) -> None:
        self.new += outcome.new
        self.changed += outcome.changed
        self.unchanged += outcome.unchanged
        self.rejected += outcome.rejected

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None
