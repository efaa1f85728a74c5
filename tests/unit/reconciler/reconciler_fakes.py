"""In-memory stand-ins for unit tests of the drift algorithm (integration tests use real targets)."""

from __future__ import annotations

from typing import Sequence

from aegis.errors import TransientError
from aegis.models.policy import PolicyRow
from cdc_sinks.base import Removal, SinkRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum, checksums_of


class FakeSink:
    """Keeps the Sink contract: LSN guard (equal LSN rewrites), removal markers, paged read-back."""

    name = "fake"

    def __init__(self) -> None:
        self.records: dict[int, StoredVersion] = {}
        self.markers: dict[int, int] = {}
        self.down = False
        self.fail_after_reads: int | None = None
        self.flaky_reads = 0  # this many read-backs fail (transiently) before they succeed
        self.reads = 0
        self.writes = 0

    def _check(self) -> None:
        if self.down:
            raise TransientError("fake target is down")

    def ensure_ready(self) -> None:
        self._check()

    def ping(self) -> bool:
        return not self.down

    def upsert_batch(self, records: Sequence[SinkRecord]) -> None:
        self._check()
        for r in records:
            stored = self.records.get(r.policy_id)
            floor = max(stored.lsn if stored else -1, self.markers.get(r.policy_id, -1))
            if r.lsn < floor or (r.policy_id in self.markers and r.lsn <= self.markers[r.policy_id]):
                continue
            self.markers.pop(r.policy_id, None)
            self.records[r.policy_id] = StoredVersion(r.policy_id, r.lsn, r.content_hash)
            self.writes += 1

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self._check()
        for r in removals:
            stored = self.records.get(r.policy_id)
            if stored is not None and r.lsn < stored.lsn:
                continue
            self.records.pop(r.policy_id, None)
            self.markers[r.policy_id] = max(r.lsn, self.markers.get(r.policy_id, r.lsn))
            self.writes += 1

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        self._check()
        self.reads += 1
        if self.flaky_reads > 0:
            self.flaky_reads -= 1
            raise TransientError("fake target timed out")
        if self.fail_after_reads is not None and self.reads > self.fail_after_reads:
            raise TransientError("fake target went away mid-scan")
        ids = sorted(i for i in self.records if i > after_id)[:limit]
        return [self.records[i] for i in ids]

    def count(self) -> int:
        return len(self.records)

    def close(self) -> None:
        pass


class FakeChecksumSink(FakeSink):
    """A target that stores each record's digest and sums it per range itself (like search, Neo4j, Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.checksum_calls = 0

    def upsert_batch(self, records: Sequence[SinkRecord]) -> None:
        super().upsert_batch(records)
        for r in records:
            if self.records.get(r.policy_id) == StoredVersion(r.policy_id, r.lsn, r.content_hash):
                self.records[r.policy_id] = StoredVersion(r.policy_id, r.lsn, r.content_hash,
                                                          row_digest=r.row_digest)

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        self._check()
        self.checksum_calls += 1
        out: dict[int, RangeChecksum] = {}
        for i, v in sorted(self.records.items()):
            if i >= lo and (hi is None or i < hi):
                out.setdefault(i // range_size, RangeChecksum()).add_digest(v.row_digest or 0)
        return out


class FakeView:
    """PostgreSQL's ``policies`` as ``ActiveView`` reads them, in memory."""

    def __init__(self, rows: list[PolicyRow], lsn: int = 10_000) -> None:
        self.rows_by_id = {r.id: r for r in rows}
        self.lsn = lsn
        self.hash_queries = 0

    def _active(self):
        return {i: r for i, r in self.rows_by_id.items() if r.is_active}

    def range_checksums(self, range_size, lo=None, hi=None):
        return checksums_of(((i, r.content_hash) for i, r in self._active().items()
                             if (lo is None or i >= lo) and (hi is None or i < hi)), range_size)

    def hashes(self, lo, hi):
        self.hash_queries += 1
        return {i: r.content_hash for i, r in self._active().items() if lo <= i < hi}

    def statuses(self, ids):
        return {i: self.rows_by_id[i].status.value for i in ids if i in self.rows_by_id}

    def rows(self, ids):
        return [self.rows_by_id[i] for i in sorted(ids) if i in self.rows_by_id]

    def active_count(self):
        return len(self._active())

    def current_lsn(self):
        return self.lsn
