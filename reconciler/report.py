"""The ``ConsistencyReport`` of one pass (seed §5.1): built, stored and announced.

``store_report`` writes it to ``consistency_reports`` and its summary as ``data.sync_completed``
to the outbox, in one transaction. Record lists are bounded (``LISTED_PER_TARGET`` per kind and
target); the counts always cover everything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum

import psycopg
from pydantic import BaseModel, Field

from aegis.audit import AuditAction, AuditEntry, write_audit
from aegis.events import DataSyncCompleted, SyncResultPayload, write_event
from reconciler.drift import DriftKind
from reconciler.duplicates import DuplicateMatch
from reconciler.promotion import PromotionSummary
from reconciler.repair import FixAction

LISTED_PER_TARGET = 1000
"""Records named per kind and target in a report (counts are never truncated)."""


class TargetStatus(str, Enum):
    CONSISTENT = "consistent"    # nothing differed
    LAGGING = "lagging"          # nothing differed but changes still in flight (left to the stream)
    REPAIRED = "repaired"        # drift found, repaired, and a fresh read of every repaired record matched
    DRIFTED = "drifted"          # drift found on a dry run (nothing written)
    UNREPAIRED = "unrepaired"    # a repaired record still differed on a fresh read
    UNREACHABLE = "unreachable"  # the target did not answer: not checked, not counted as drift
    FAILED = "failed"            # the check itself failed (configuration, unexpected error)

    @property
    def ok(self) -> bool:
        return self in (TargetStatus.CONSISTENT, TargetStatus.LAGGING, TargetStatus.REPAIRED)


class Inconsistency(BaseModel):
    target: str
    kind: DriftKind
    policy_id: int
    detail: str
    source_hash: str | None = None
    target_hash: str | None = None
    target_lsn: int | None = None
    in_flight: bool = False  # a change for it is still on its way: lag, not drift (not repaired, not counted)


class FixApplied(BaseModel):
    target: str
    kind: DriftKind
    policy_id: int
    action: FixAction
    lsn: int | None = None
    error: str | None = None


class TargetReport(BaseModel):
    """One target's share of a pass. Drift counts are per ``DriftKind`` (one field each)."""

    target: str
    status: TargetStatus
    error: str | None = None
    source_count: int = 0     # active policies in PostgreSQL
    target_count: int = 0     # records the target's checksums cover
    deep_checked: int = 0     # records read as a reader sees them and compared field by field
    deep_plan: str = ""       # which ranges were read deep besides the differing ones
    ranges_total: int = 0
    ranges_differing: int = 0
    missing: int = 0
    orphaned: int = 0
    stale: int = 0
    content: int = 0
    metadata: int = 0
    partial: int = 0
    wiped: int = 0
    in_flight: int = 0        # differences whose change is still on its way (lag, left to the stream)
    stream_note: str = ""     # what the change stream said about in-flight changes
    repaired: int = 0         # repairs a fresh read confirmed
    repair_failed: int = 0    # repairs a fresh read did not confirm
    failed_ids: list[int] = Field(default_factory=list)
    markers_purged: int = 0   # removal markers no event still in Kafka can need any more
    markers_note: str = ""
    elapsed_ms: int = 0

    @property
    def drift_count(self) -> int:
        return sum(getattr(self, kind.value) for kind in DriftKind)

    def drift_by_kind(self) -> dict[str, int]:
        return {kind.value: getattr(self, kind.value) for kind in DriftKind}


class ConsistencyReport(BaseModel):
    """Seed §5.1 fields (``is_consistent``, ``inconsistencies``, ``fixes_applied``, ``checked_at``)
    plus the pass's targets, quality results and duplicates."""

    run_id: str
    dry_run: bool
    started_at: datetime
    checked_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    is_consistent: bool = True
    targets: list[TargetReport] = Field(default_factory=list)
    inconsistencies: list[Inconsistency] = Field(default_factory=list)
    fixes_applied: list[FixApplied] = Field(default_factory=list)
    quality: PromotionSummary | None = None
    duplicates: list[DuplicateMatch] = Field(default_factory=list)
    listed_per_target: int = LISTED_PER_TARGET
    deep: bool = False              # every range read deep (``--deep``)
    deep_slice: int | None = None   # else the rotating slice read deep this pass

    def finish(self) -> ConsistencyReport:
        """Set ``is_consistent`` and ``checked_at`` from the target results."""
        self.is_consistent = all(t.status.ok for t in self.targets)
        self.checked_at = datetime.now(UTC)
        return self

    @property
    def drift_found(self) -> bool:
        return any(t.drift_count for t in self.targets)

    def exit_code(self) -> int:
        """0 consistent (or repaired); 1 a dry run found drift; 2 a target could not be checked or repaired."""
        if any(t.status in (TargetStatus.UNREACHABLE, TargetStatus.FAILED, TargetStatus.UNREPAIRED)
               for t in self.targets):
            return 2
        if any(t.status is TargetStatus.DRIFTED for t in self.targets):
            return 1
        return 0

    def summary(self) -> dict:
        """The compact per-target view stored beside the full report."""
        return {"targets": {t.target: {"status": t.status.value, **t.drift_by_kind(), "in_flight": t.in_flight,
                                       "repaired": t.repaired, "repair_failed": t.repair_failed,
                                       "source_count": t.source_count, "target_count": t.target_count,
                                       "deep_checked": t.deep_checked, "error": t.error} for t in self.targets},
                "deep_slice": self.deep_slice,
                "promoted": self.quality.activated if self.quality else 0,
                "rejected": self.quality.rejected if self.quality else 0,
                "archived": (self.quality.archived + self.quality.expired) if self.quality else 0,
                "duplicates": len(self.duplicates)}

    def sync_event(self) -> DataSyncCompleted:
        return DataSyncCompleted(
            sync_id=self.run_id, target_databases=[t.target for t in self.targets],
            policies_synced=sum(t.repaired for t in self.targets),
            sync_results=[SyncResultPayload(
                target_db=t.target, success=t.status in (TargetStatus.CONSISTENT, TargetStatus.REPAIRED),
                records_synced=t.repaired, status=t.status.value,
                verified_records=t.target_count if t.status in (TargetStatus.CONSISTENT, TargetStatus.REPAIRED) else 0,
                deep_verified_records=t.deep_checked, in_flight=t.in_flight) for t in self.targets],
            synced_at=self.checked_at)


def repair_audit_entries(report: ConsistencyReport) -> list[AuditEntry]:
    """One audit row per repair the pass wrote (confirmed by a fresh read, or not: ``details.fix`` says)."""
    return [AuditEntry(entity_id=str(fix.policy_id), action=AuditAction.REPAIRED.value, actor="reconciler",
                       reason=f"{fix.kind.value} drift in {fix.target}", run_id=report.run_id,
                       details={"target": fix.target, "fix": fix.action.value, "lsn": fix.lsn,
                                **({"error": fix.error} if fix.error else {})})
            for fix in report.fixes_applied if fix.action is not FixAction.UNCHANGED]


def store_report(conn: psycopg.Connection, report: ConsistencyReport) -> None:
    """Insert the report, its repairs' audit rows and ``data.sync_completed`` in one transaction."""
    with conn.transaction():
        write_audit(conn, repair_audit_entries(report))
        conn.execute(
            "INSERT INTO consistency_reports (run_id, dry_run, is_consistent, targets, started_at, checked_at, "
            "summary, report) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (report.run_id, report.dry_run, report.is_consistent, [t.target for t in report.targets],
             report.started_at, report.checked_at, json.dumps(report.summary(), ensure_ascii=False),
             report.model_dump_json()))
        write_event(conn, report.sync_event())
