"""Repair: put drifted records back in step with PostgreSQL, then prove it by reading them again.

Missing, stale, edited and partial records are re-read from PostgreSQL and rewritten through the
sink's own ``upsert_batch(rewrite=True)`` (the write code CDC uses, with the same projection and
masking, taking no shortcut: edges and vectors are rebuilt too); orphans are removed through
``remove_batch``. Each write is a compare-and-set against what the check read, by LSN:

* a record the target holds → the version its guard held when read (``Drift.write_version``: the
  stored LSN, or the search engine's ``_version`` where an ``_update`` raised it). The guard
  accepts an equal version as a rewrite, and refuses it when the stream has written a newer
  change meanwhile — which then stands;
* a record the target does not hold → PostgreSQL's WAL position read *before* the rows are read
  (above any removal marker, below every change not yet in the rows read);
* an orphan → the larger of the two.

**Verification.** After writing, every repaired id is read again from the target
(``Sink.read_records``) and compared with PostgreSQL's current row, up to
``RECONCILE_VERIFY_ATTEMPTS`` times (targets refresh asynchronously). Only a record that then
matches counts as repaired; the rest are reported failed with the reason, never as consistent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from cdc_sinks.applier import write_isolating
from cdc_sinks.base import PolicyDocument, Removal, Sink, SinkRecord
from reconciler.drift import ActiveView, Drift, DriftKind, classify


class FixAction(str, Enum):
    REAPPLIED = "reapplied"
    REMOVED = "removed"
    FAILED = "failed"        # written (or refused), but a fresh read still differs
    UNCHANGED = "unchanged"  # nothing to write any more: the record is in step now (the stream caught up)


@dataclass(frozen=True, slots=True)
class Fix:
    kind: DriftKind
    policy_id: int
    action: FixAction
    lsn: int | None = None
    error: str | None = None


def _write(items: list, size: int, write: Callable[[list], None], refused: dict[int, str]) -> None:
    """Write in chunks; a chunk the target refuses is split (the sinks' own isolation) to find the bad records."""
    for start in range(0, len(items), size):
        for item, error in write_isolating(write, items[start:start + size]):
            refused[item.policy_id] = error.message


def repair(view: ActiveView, sink: Sink, drifts: Sequence[Drift], *, batch_size: int, verify_attempts: int,
           verify_delay: float, sleep: Callable[[float], None] = time.sleep) -> list[Fix]:
    """Rewrite or remove every drifted record, then verify each one by a fresh read.

    ``TransientError`` from the sink propagates (the target is down: the caller reports it).
    """
    floor = view.current_lsn()
    rows = view.rows([d.policy_id for d in drifts])
    records: list[SinkRecord] = []
    removals: list[Removal] = []
    planned: dict[int, tuple[Drift, FixAction, int]] = {}
    for drift in drifts:
        row = rows.get(drift.policy_id)
        if row is not None and row.is_active:
            lsn = drift.write_version if drift.write_version is not None else floor
            records.append(SinkRecord(row.id, lsn, row.content_hash.strip(), PolicyDocument.from_row(row)))
            planned[drift.policy_id] = (drift, FixAction.REAPPLIED, lsn)
        else:
            lsn = max(floor, drift.write_version or 0)
            removals.append(Removal(policy_id=drift.policy_id, lsn=lsn))
            planned[drift.policy_id] = (drift, FixAction.REMOVED, lsn)
    refused: dict[int, str] = {}
    _write(records, batch_size, lambda chunk: sink.upsert_batch(chunk, rewrite=True), refused)
    _write(removals, batch_size, sink.remove_batch, refused)
    still = verify(view, sink, list(planned), attempts=verify_attempts, delay=verify_delay, sleep=sleep)
    fixes = []
    for policy_id, (drift, action, lsn) in planned.items():
        if policy_id in still:
            reason = refused.get(policy_id) or f"a fresh read still shows {still[policy_id].kind.value} drift" + (
                f" ({still[policy_id].detail})" if still[policy_id].detail else "")
            fixes.append(Fix(drift.kind, policy_id, FixAction.FAILED, lsn, reason))
        else:
            fixes.append(Fix(drift.kind, policy_id, action, lsn))
    return fixes


def verify(view: ActiveView, sink: Sink, ids: list[int], *, attempts: int, delay: float,
           sleep: Callable[[float], None] = time.sleep) -> dict[int, Drift]:
    """The ids whose fresh read still differs from PostgreSQL's current row after ``attempts`` reads."""
    pending = sorted(ids)
    still: dict[int, Drift] = {}
    for attempt in range(max(1, attempts)):
        rows = {i: r for i, r in view.rows(pending).items() if r.is_active}
        stored = sink.read_records(pending)
        still = {}
        for policy_id in pending:
            found = classify(policy_id, rows.get(policy_id), stored.get(policy_id), sink=sink)
            if found is not None:
                still[policy_id] = found
        pending = sorted(still)
        if not pending:
            break
        if attempt + 1 < attempts:
            sleep(delay)
    return still
