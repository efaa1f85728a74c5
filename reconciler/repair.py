"""Repair: put one differing range of a target back in step with PostgreSQL.

Missing and stale records are re-read from PostgreSQL and re-applied through the sink's own
``upsert_batch`` (the write code CDC uses, with the same document projection and PII masking);
orphans are removed through ``remove_batch``. The LSN each repair write carries is chosen so
it wins over what the target holds but never hides a later change arriving through CDC:

* **stale** → the LSN the target already stores for it (sinks accept an equal LSN as a rewrite,
  and any later change has a higher LSN);
* **missing** → PostgreSQL's WAL position read *before* the rows are read (it is above any
  removal marker the target may hold — markers come from WAL already written — and below the
  LSN of every change that is not yet in the rows we read, except one whose transaction had
  written that change before and committed after our read: that rare change is caught as
  stale by the next pass);
* **orphan** → the larger of that WAL position and the LSN the target stores.

A record that turned non-active since it was found missing needs nothing; one found stale that
turned non-active is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Sequence

from aegis.errors import DataError
from cdc_sinks.base import PolicyDocument, Removal, Sink, SinkRecord
from reconciler.drift import ActiveView, DriftKind, RangeDiff


class FixAction(str, Enum):
    REAPPLIED = "reapplied"
    REMOVED = "removed"
    FAILED = "failed"      # the target refused the record (DataError)
    UNCHANGED = "unchanged"  # no longer needed: the record left the active view meanwhile


@dataclass(frozen=True, slots=True)
class Fix:
    kind: DriftKind
    policy_id: int
    action: FixAction
    lsn: int | None = None
    error: str | None = None


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _write(sink: Sink, items: list, size: int, write, fixes_by_id: dict[int, Fix]) -> None:
    """Write in chunks; a chunk the target refuses is retried one by one to isolate the bad record."""
    for chunk in _chunks(items, size):
        try:
            write(chunk)
        except DataError:
            for item in chunk:
                try:
                    write([item])
                except DataError as exc:
                    old = fixes_by_id[item.policy_id]
                    fixes_by_id[item.policy_id] = Fix(old.kind, old.policy_id, FixAction.FAILED, old.lsn, exc.message)


def repair_range(view: ActiveView, sink: Sink, diff: RangeDiff, *, batch_size: int) -> list[Fix]:
    """Re-apply missing and stale records, remove orphans; return what was done per record.

    ``TransientError`` from the sink propagates (the target is down: the caller reports it).
    """
    floor = view.current_lsn()
    rewrite = [d for d in diff.drifts if d.kind is not DriftKind.ORPHANED]
    rows = {row.id: row for row in view.rows([d.policy_id for d in rewrite])}
    records: list[SinkRecord] = []
    removals: list[Removal] = []
    fixes: dict[int, Fix] = {}
    for drift in diff.drifts:
        row = rows.get(drift.policy_id)
        if drift.kind is not DriftKind.ORPHANED and row is not None and row.is_active:
            lsn = drift.target_lsn if drift.kind is DriftKind.STALE and drift.target_lsn is not None else floor
            records.append(SinkRecord(policy_id=row.id, lsn=lsn, content_hash=row.content_hash.strip(),
                                      document=PolicyDocument.from_row(row)))
            fixes[drift.policy_id] = Fix(drift.kind, drift.policy_id, FixAction.REAPPLIED, lsn)
        elif drift.kind is DriftKind.MISSING:
            fixes[drift.policy_id] = Fix(drift.kind, drift.policy_id, FixAction.UNCHANGED)
        else:
            lsn = max(floor, drift.target_lsn or 0)
            removals.append(Removal(policy_id=drift.policy_id, lsn=lsn))
            fixes[drift.policy_id] = Fix(drift.kind, drift.policy_id, FixAction.REMOVED, lsn)
    _write(sink, records, batch_size, sink.upsert_batch, fixes)
    _write(sink, removals, batch_size, sink.remove_batch, fixes)
    return list(fixes.values())
