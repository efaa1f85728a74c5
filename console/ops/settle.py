"""Letting Milvus do now the background work a burst of writes leaves behind (``aegis stack settle``).

Milvus seals a growing segment only once it has taken no write for ten minutes
(``dataCoord.segment.maxIdleTime``). Then it builds the segment's HNSW index, compacts away the
deleted rows and merges small segments, indexes what the compaction wrote and hands the new segments
to its query node. After a test suite or a benchmark that work therefore starts ten minutes after
the last write and takes up to half a core for minutes, in the middle of whatever runs next
(bench/RESULTS.md, "After a test suite"). Settling does it at once, every collection side by side:

1. flush (seal the growing segments) and wait until every sealed row is indexed;
2. where a compaction is due (deleted rows not yet purged, or more than one segment to merge),
   compact and wait for it: Milvus compacts only indexed segments, hence the order;
3. wait until what the compaction wrote is indexed and the query node serves exactly the persisted
   segments.

Rows and vectors are unchanged. A collection with nothing due costs a flush and a few reads.

Behavior when things go wrong: a collection whose calls fail, or whose work is not done by the
deadline, is reported with the error or with what is left (a compaction, rows to index, segments
not yet handed over to the query node), and the others go on. Only Milvus not answering at all
raises (``TransientError``, DP_3001).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aegis.errors import AegisError
from aegis.settings import MilvusSettings
from cdc_sinks.milvus.store import MilvusStore

POLL_SECONDS = 0.5


@dataclass
class SettleResult:
    """What settling one collection did, or what it left."""

    collection: str
    seconds: float = 0.0
    compacted: bool = False
    compacting: bool = False
    rows_to_index: int = 0
    segments_to_hand_over: int = 0
    error: str | None = None

    @property
    def settled(self) -> bool:
        return self.error is None and not self.compacting and not self.rows_to_index and not self.segments_to_hand_over

    def line(self) -> str:
        if self.error is not None:
            return f"milvus: {self.collection} not settled: {self.error}"
        if self.settled:
            return f"milvus: {self.collection} settled in {self.seconds:.1f}s{' (compacted)' if self.compacted else ''}"
        left = [f"{count} {what}" for what, count in (("rows to index", self.rows_to_index),
                                                     ("segments to hand over", self.segments_to_hand_over)) if count]
        if self.compacting:
            left.insert(0, "a compaction")
        return f"milvus: {self.collection} not settled after {self.seconds:.0f}s: {' and '.join(left)} left"


def settle_milvus(settings: MilvusSettings, timeout: float, progress: Callable[[str], None] = lambda _: None,
                  collections: list[str] | None = None) -> list[SettleResult]:
    """Settle ``collections`` (default: every collection) of the Milvus server ``settings`` name,
    within ``timeout`` seconds in all; a result per collection."""
    store = MilvusStore(settings)
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    try:
        results = [SettleResult(name) for name in (store.collections() if collections is None else collections)]
        _each(results, lambda r: store.flush(r.collection))
        _wait(results, deadline, lambda r: _indexed(store, r))
        jobs: dict[str, int] = {}
        _each(results, lambda r: _compact_if_due(store, r, jobs))
        _wait(results, deadline, lambda r: _compacted(store, r, jobs))
        _wait(results, deadline, lambda r: all([_indexed(store, r), _handed_over(store, r)]))
        for result in results:
            result.seconds = time.monotonic() - started
            progress(result.line())
        return results
    finally:
        store.close()


def _each(results: list[SettleResult], step: Callable[[SettleResult], object]) -> None:
    """``step`` on every collection without an error yet; a failure is that collection's error."""
    for result in results:
        if result.error is None:
            try:
                step(result)
            except AegisError as exc:
                result.error = str(exc)


def _wait(results: list[SettleResult], deadline: float, done: Callable[[SettleResult], bool]) -> None:
    """Poll ``done`` for each collection (without an error) until it holds for all or the deadline."""
    pending = [r for r in results if r.error is None]
    while pending:
        finished: list[SettleResult] = []
        for result in pending:
            try:
                if done(result):
                    finished.append(result)
            except AegisError as exc:
                result.error = str(exc)
        pending = [r for r in pending if r.error is None and r not in finished]
        if not pending or time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


def _indexed(store: MilvusStore, result: SettleResult) -> bool:
    result.rows_to_index = store.rows_to_index(result.collection)
    return not result.rows_to_index


def _compact_if_due(store: MilvusStore, result: SettleResult, jobs: dict[str, int]) -> None:
    # Milvus's own triggers: segments to merge, or deleted rows still stored (counted only when
    # loaded). A compaction rewrites every segment, so a collection with neither is left alone.
    segments = store.segments(result.collection)
    deleted_rows_stored = segments.loaded and segments.rows and store.count(result.collection, "") < segments.rows
    if len(segments.persisted) > 1 or deleted_rows_stored:
        jobs[result.collection] = store.compact(result.collection)
        result.compacted = result.compacting = True


def _compacted(store: MilvusStore, result: SettleResult, jobs: dict[str, int]) -> bool:
    job = jobs.get(result.collection)
    result.compacting = job is not None and not store.compaction_done(job)
    return not result.compacting


def _handed_over(store: MilvusStore, result: SettleResult) -> bool:
    segments = store.segments(result.collection)
    # to load (persisted, not served) or to release (served, compacted away)
    result.segments_to_hand_over = len(set(segments.persisted) ^ segments.served) if segments.loaded else 0
    return segments.handed_over
