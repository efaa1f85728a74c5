"""An in-memory sink keeping the cdc_sinks/base.py contract, for unit tests of the runtime logic."""

from __future__ import annotations

from typing import Any, Sequence

from aegis.errors import DataError, ErrorCode, TransientError
from cdc_sinks.base import Removal, SinkRecord, StoredRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum, checksums_of


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
        self._guard([r.policy_id for r in records])
        for r in records:
            if not self._older(r.policy_id, r.lsn):
                self.records[r.policy_id] = (r.lsn, r.content_hash, False)

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self._guard([r.policy_id for r in removals])
        for r in removals:
            if not self._older(r.policy_id, r.lsn):
                self.records[r.policy_id] = (r.lsn, "", True)

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

    def drop_namespace(self) -> None:
        self.records.clear()

    def count(self) -> int:
        return sum(1 for v in self.records.values() if not v[2])

    def close(self) -> None: ...
