"""Test doubles of the sink contract (``cdc_sinks/base.py``) and the reconciler's active view.

``MemorySink`` keeps the contract in memory for unit tests of the runtime logic (batching, the
applier, dead letters); ``FakeSink`` and ``FakeView`` stand in for a target and PostgreSQL in unit
tests of the drift algorithm, where tests edit the records to play drift. Integration tests use the
real targets, never these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aegis.errors import DataError, ErrorCode, TransientError
from aegis.models.policy import PolicyRow
from cdc_sinks.base import Defect, Removal, SinkRecord, StoredRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum
from testkit.checksums import checksums_of


class MemorySink:
    name = "memory"

    def __init__(self, refuse_ids: set[int] = frozenset(), transient_failures: int = 0):
        self.records: dict[int, tuple[int, str, bool]] = {}  # id -> (lsn, hash, removed)
        self.refuse_ids = set(refuse_ids)
        self.transient_failures = transient_failures
        self.calls = 0

    def _guard(self, ids: list[int]) -> None:
        self.calls += 1
        if self.transient_failures:
            self.transient_failures -= 1
            raise TransientError("memory target down", code=ErrorCode.REDIS_SYNC_FAILED)
        refused = [i for i in ids if i in self.refuse_ids]
        if refused:
            raise DataError(f"refused {refused}", code=ErrorCode.REDIS_SYNC_FAILED)

    def _older(self, policy_id: int, lsn: int) -> bool:
        stored = self.records.get(policy_id)
        return stored is not None and lsn < stored[0]

    def ensure_ready(self) -> None: ...

    def ping(self) -> bool:
        return True

    def describe(self) -> str:
        return "memory"

    def project(self, record: SinkRecord) -> dict[str, Any]:
        return {"id": record.policy_id}

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        self.write_batch(records, [])

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self.write_batch([], removals)

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        self._guard([r.policy_id for r in [*records, *removals]])  # one call refuses or takes all
        for r in records:
            if not self._older(r.policy_id, r.lsn):
                self.records[r.policy_id] = (r.lsn, r.content_hash, False)
        for removal in removals:
            if not self._older(removal.policy_id, removal.lsn):
                self.records[removal.policy_id] = (removal.lsn, "", True)

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        active = sorted((i, v) for i, v in self.records.items() if not v[2] and i > after_id)
        return [StoredVersion(i, v[0], v[1]) for i, v in active[:limit]]

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        return checksums_of(((v.policy_id, v.content_hash) for v in self.read_back(lo - 1, len(self.records))
                             if hi is None or v.policy_id < hi), range_size)

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        return {v.policy_id: StoredRecord(v.policy_id, v, {"id": v.policy_id})
                for v in self.read_back(0, len(self.records)) if v.policy_id in set(ids)}

    def stray_ids(self) -> set[int]:
        return set()

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        gone = [i for i, v in self.records.items() if v[2] and i not in keep]
        for i in gone:
            del self.records[i]
        return len(gone)

    def drop_namespace(self) -> None:
        self.records.clear()

    def count(self) -> int:
        return sum(1 for v in self.records.values() if not v[2])

    def close(self) -> None: ...



@dataclass
class Held:
    """One record as the fake target holds it: bookkeeping, guard, content and defects."""

    lsn: int
    content_hash: str
    row_digest: int | None
    content: dict[str, Any] | None
    guard: int | None = None
    defects: tuple[Defect, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class FakeSink:
    """Keeps the Sink contract in memory: LSN guard (equal LSN rewrites), removal markers, checksums
    from the stored digests, deep reads of content. Tests edit ``records`` to play drift."""

    name = "fake"

    def __init__(self) -> None:
        self.records: dict[int, Held] = {}
        self.markers: dict[int, int] = {}
        self.marked_at: dict[int, float] = {}
        self.now = 1_000.0
        self.strays: set[int] = set()
        self.down = False
        self.fail_after_reads: int | None = None
        self.flaky_reads = 0  # this many reads fail (transiently) before they succeed
        self.drop_writes = False  # acknowledge writes and keep nothing (a target that lies)
        self.reads = 0
        self.writes = 0
        self.rewrites = 0

    def _check(self) -> None:
        if self.down:
            raise TransientError("fake target is down")

    def _read(self) -> None:
        self._check()
        self.reads += 1
        if self.flaky_reads > 0:
            self.flaky_reads -= 1
            raise TransientError("fake target timed out")
        if self.fail_after_reads is not None and self.reads > self.fail_after_reads:
            raise TransientError("fake target went away mid-scan")

    def ensure_ready(self) -> None:
        self._check()

    def ping(self) -> bool:
        return not self.down

    def describe(self) -> str:
        return "fake target"

    def project(self, record: SinkRecord) -> dict[str, Any]:
        return {"id": record.policy_id, "title": record.document.title, "content": record.document.content}

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        self._check()
        self.rewrites += rewrite
        if self.drop_writes:
            return
        for r in records:
            held = self.records.get(r.policy_id)
            guard = max(held.guard or held.lsn, held.lsn) if held else -1
            if r.lsn < guard or (r.policy_id in self.markers and r.lsn <= self.markers[r.policy_id]):
                continue
            self.markers.pop(r.policy_id, None)
            self.records[r.policy_id] = Held(r.lsn, r.content_hash, r.row_digest, self.project(r))
            self.writes += 1

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self._check()
        if self.drop_writes:
            return
        for r in removals:
            held = self.records.get(r.policy_id)
            if held is not None and r.lsn < held.lsn:
                continue
            self.records.pop(r.policy_id, None)
            self.strays.discard(r.policy_id)
            self.markers[r.policy_id] = max(r.lsn, self.markers.get(r.policy_id, r.lsn))
            self.marked_at[r.policy_id] = self.now
            self.writes += 1

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        self.upsert_batch(records)
        self.remove_batch(removals)

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        self._read()
        ids = sorted(i for i in self.records if i > after_id and i not in self.strays)[:limit]
        return [self._version(i) for i in ids]

    def _version(self, policy_id: int) -> StoredVersion:
        held = self.records[policy_id]
        return StoredVersion(policy_id, held.lsn, held.content_hash, row_digest=held.row_digest, guard=held.guard)

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        self._read()
        out: dict[int, RangeChecksum] = {}
        for i, held in sorted(self.records.items()):
            if i >= lo and (hi is None or i < hi) and i not in self.strays:
                out.setdefault(i // range_size, RangeChecksum()).add_digest(held.row_digest or 0)
        return out

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        self._read()
        return {i: StoredRecord(i, self._version(i), self.records[i].content, self.records[i].defects)
                for i in ids if i in self.records}

    def stray_ids(self) -> set[int]:
        return set(self.strays)

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        gone = [i for i, at in self.marked_at.items() if at < written_before and i not in keep]
        for i in gone:
            self.markers.pop(i, None)
            self.marked_at.pop(i, None)
        return len(gone)

    def edit(self, policy_id: int, **changes: Any) -> None:
        """Change what the target holds for one record behind the sink's back."""
        self.records[policy_id] = replace(self.records[policy_id], **changes)

    def count(self) -> int:
        return len(self.records)

    def drop_namespace(self) -> None:
        self.records.clear()
        self.markers.clear()

    def close(self) -> None:
        pass


class FakeView:
    """PostgreSQL's ``policies`` as ``ActiveView`` reads them, in memory."""

    def __init__(self, rows: list[PolicyRow], lsn: int = 10_000) -> None:
        self.rows_by_id = {r.id: r for r in rows}
        self.lsn = lsn
        self.conn = None

    def _active(self):
        return {i: r for i, r in self.rows_by_id.items() if r.is_active}

    def range_checksums(self, range_size, lo=None, hi=None):
        return checksums_of(((i, r.content_hash) for i, r in self._active().items()
                             if (lo is None or i >= lo) and (hi is None or i < hi)), range_size)

    def active_rows(self, lo, hi):
        return {i: r for i, r in self._active().items() if lo <= i < hi}

    def statuses(self, ids):
        return {i: self.rows_by_id[i].status.value for i in ids if i in self.rows_by_id}

    def rows(self, ids):
        return {i: self.rows_by_id[i] for i in sorted(ids) if i in self.rows_by_id}

    def current_lsn(self):
        return self.lsn
