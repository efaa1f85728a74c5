"""One target's share of a pass: detect drift, tell lag from drift, repair, verify by reading again.

1. **Detect.** The target's range checksums against PostgreSQL's (lean, every range); ranges that
   differ, and the ranges of this pass's deep plan (``DeepPlan``), are read deep and compared
   record by record (``reconciler.drift``).
2. **Lag or drift.** If anything differs, the change stream is asked what it still carries for
   this sink (``reconciler.inflight``): those records are *in flight* — reported as lag, not drift,
   and not repaired.
3. **Repair and verify** (not on a dry run): every drifted record is rewritten or removed, then
   read again; only a record a fresh read confirms counts as repaired (``reconciler.repair``).

A target that does not answer (``ping`` false, or a ``TransientError`` while it is read or
written) is reported ``unreachable`` — never as drifted — and the pass goes on with the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from aegis.errors import AegisError, TransientError
from aegis.retry import RetryPolicy, retry_call
from aegis.settings import ReconcilerSettings
from cdc_sinks.base import Removal, Sink, SinkRecord, StoredRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum
from reconciler.drift import (
    ActiveView,
    DeepPlan,
    Drift,
    DriftKind,
    RangeDiff,
    ScanStats,
    Segment,
    deep_range_diff,
    segments,
)
from reconciler.inflight import StreamState
from reconciler.repair import FixAction, repair
from reconciler.report import FixApplied, Inconsistency, TargetReport, TargetStatus

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
StreamCheck = Callable[[ActiveView, str, int], StreamState]
"""(view, sink name, WAL position read before the comparison) → what is still in flight."""
MarkerKeep = Callable[[ActiveView, str], "tuple[set[int] | None, str]"]
"""(view, sink name) → ids whose removal markers must stay (None: purge nothing now), and why."""


@dataclass
class TargetOutcome:
    report: TargetReport
    inconsistencies: list[Inconsistency] = field(default_factory=list)
    fixes: list[FixApplied] = field(default_factory=list)


def _detail(target: str, drift: Drift, pg_status: str | None) -> str:
    extra = f" ({drift.detail})" if drift.detail else ""
    if drift.kind is DriftKind.MISSING:
        return f"active in PostgreSQL, absent from {target}"
    if drift.kind is DriftKind.WIPED:
        return f"active in PostgreSQL; {target} holds no record at all"
    if drift.kind is DriftKind.STALE:
        return (f"{target} holds another version: content {(drift.target_hash or '')[:12]}… (LSN {drift.target_lsn}), "
                f"PostgreSQL has {(drift.source_hash or '')[:12]}…")
    if drift.kind is DriftKind.CONTENT:
        return f"{target} content differs from PostgreSQL's though its content hash is the same{extra}"
    if drift.kind is DriftKind.METADATA:
        return f"{target} content matches PostgreSQL's, its bookkeeping does not{extra}"
    if drift.kind is DriftKind.PARTIAL:
        return f"{target} holds part of the record{extra}"
    if pg_status is None:
        return f"in {target} (LSN {drift.target_lsn}), but PostgreSQL has no policy {drift.policy_id}"
    return f"in {target} (LSN {drift.target_lsn}), but its status in PostgreSQL is {pg_status}"


class RetryingSink:
    """A sink whose reads and writes are retried on ``TransientError`` (bounded, backoff with jitter).

    One timeout of a busy target is not an outage; a target still failing after the retries is
    reported unreachable. Writes are safe to repeat: every sink applies them idempotently by LSN.
    """

    def __init__(self, sink: Sink, policy: RetryPolicy, sleep: Callable[[float], None] = time.sleep):
        self.sink = sink
        self.name = sink.name
        self.policy = policy
        self.sleep = sleep

    def _call(self, fn, what: str):
        return retry_call(fn, self.policy, what=f"{self.name} {what}", sleep=self.sleep)

    def ensure_ready(self) -> None:
        self._call(self.sink.ensure_ready, "set-up")

    def ping(self) -> bool:
        return self.sink.ping()

    def describe(self) -> str:
        return self._call(self.sink.describe, "describe")

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        return self._call(lambda: self.sink.read_back(after_id, limit), "read-back")

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        return self._call(lambda: self.sink.range_checksums(range_size, lo, hi), "range checksums")

    def project(self, record: SinkRecord) -> dict:
        return self.sink.project(record)

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        return self._call(lambda: self.sink.read_records(ids), f"deep read of {len(ids)} record(s)")

    def stray_ids(self) -> set[int]:
        return self._call(self.sink.stray_ids, "stray scan")

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        return self._call(lambda: self.sink.purge_markers(written_before, keep), "marker purge")

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        self._call(lambda: self.sink.upsert_batch(records, rewrite=rewrite), f"rewrite of {len(records)} record(s)")

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        self._call(lambda: self.sink.remove_batch(removals), f"removal of {len(removals)} record(s)")

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        self._call(lambda: self.sink.write_batch(records, removals),
                   f"write of {len(records)} record(s) and {len(removals)} removal(s)")

    def count(self) -> int:
        return self._call(self.sink.count, "count")

    def drop_namespace(self) -> None:
        self._call(self.sink.drop_namespace, "namespace drop")

    def close(self) -> None:
        self.sink.close()


class TargetReconciler:
    """Reconciles one target against PostgreSQL (see module doc)."""

    def __init__(self, name: str, build_sink: Callable[[], Sink],
                 open_view: Callable[[], AbstractContextManager[ActiveView]],
                 config: ReconcilerSettings, *, dry_run: bool, progress: Progress = lambda _: None,
                 listed_per_kind: int = 1000, retry: RetryPolicy = RetryPolicy(attempts=1),
                 sleep: Callable[[float], None] = time.sleep, deep: DeepPlan = DeepPlan(),
                 stream_check: StreamCheck | None = None, marker_keep: MarkerKeep | None = None,
                 clock: Callable[[], float] = time.time):
        self.name = name
        self.build_sink = build_sink
        self.open_view = open_view
        self.config = config
        self.dry_run = dry_run
        self.progress = progress
        self.listed_per_kind = listed_per_kind
        self.retry = retry
        self.sleep = sleep
        self.deep = deep
        self.stream_check = stream_check
        self.marker_keep = marker_keep
        self.clock = clock

    def run(self, source_checksums: dict[int, RangeChecksum], read_from_lsn: int = 0) -> TargetOutcome:
        """``read_from_lsn``: PostgreSQL's WAL position read before its checksums (for the in-flight check)."""
        started = time.monotonic()
        outcome = TargetOutcome(TargetReport(target=self.name, status=TargetStatus.CONSISTENT,
                                             deep_plan=self.deep.describe()))
        report = outcome.report
        sink: Sink | None = None
        try:
            sink = self.build_sink()
            if not self._answers(sink):
                report.status = TargetStatus.UNREACHABLE
                report.error = f"{self.name} did not answer a ping (is it running? `aegis stack status`)"
                return outcome
            retrying = RetryingSink(sink, self.retry, self.sleep)
            if not self.dry_run:
                retrying.ensure_ready()
            self._check_and_repair(retrying, source_checksums, read_from_lsn, outcome)
        except TransientError as exc:
            report.status, report.error = TargetStatus.UNREACHABLE, str(exc)
        except AegisError as exc:
            report.status, report.error = TargetStatus.FAILED, str(exc)
        except Exception as exc:  # an unexpected error must not stop the other targets
            log.exception("reconciling %s failed", self.name)
            report.status, report.error = TargetStatus.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            report.elapsed_ms = int((time.monotonic() - started) * 1000)
            if sink is not None:
                try:
                    sink.close()
                except Exception:  # noqa: BLE001 - closing a dead connection may fail; nothing to do about it
                    pass
        return outcome

    def _answers(self, sink: Sink) -> bool:
        """``ping``, tried as often as a read would be retried: one slow answer is not an outage."""
        for attempt in range(1, self.retry.attempts + 1):
            if sink.ping():
                return True
            if attempt < self.retry.attempts:
                self.sleep(self.retry.delay(attempt))
        return False

    # ------------------------------------------------------------------ detect
    def _check_and_repair(self, sink: Sink, source_checksums: dict[int, RangeChecksum], read_from_lsn: int,
                          outcome: TargetOutcome) -> None:
        report = outcome.report
        report.source_count = sum(c.count for c in source_checksums.values())
        parts = segments(source_checksums, range_size=self.config.range_size, count=self.config.segments)
        self.progress(f"{self.name}: comparing with PostgreSQL ({report.source_count:,} active, "
                      f"{len(parts)} segment(s), range checksums and {self.deep.describe()})")
        target_checksums: dict[int, RangeChecksum] = {}
        for part in parts:
            target_checksums.update(sink.range_checksums(self.config.range_size, part.lo, part.hi))
        wants_deep = any(self.deep.includes(i) for i in source_checksums.keys() | target_checksums.keys())
        differs = any(source_checksums.get(i, RangeChecksum()) != target_checksums.get(i, RangeChecksum())
                      for i in source_checksums.keys() | target_checksums.keys())
        strays = sink.stray_ids() if (wants_deep or differs) else set()
        wiped = report.source_count > 0 and not target_checksums and not strays
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix=f"reconcile-{self.name}") as pool:
            results = list(pool.map(lambda part: self._segment(sink, source_checksums, target_checksums, part,
                                                               strays, wiped), parts))
        stats = ScanStats()
        drifts: list[Drift] = []
        for segment_stats, segment_drifts in results:
            stats.add(segment_stats)
            drifts += segment_drifts
        report.target_count = sum(c.count for c in target_checksums.values())
        report.ranges_total, report.ranges_differing = stats.ranges_total, stats.ranges_differing
        report.deep_checked = stats.deep_records
        with self.open_view() as view:
            drifts = self._separate_in_flight(view, drifts, read_from_lsn, outcome)
            self._record_drift(view, drifts, outcome)
            if not drifts:
                report.status = TargetStatus.LAGGING if report.in_flight else TargetStatus.CONSISTENT
            elif self.dry_run:
                report.status = TargetStatus.DRIFTED
            else:
                self._repair(sink, view, drifts, outcome)
            if not self.dry_run and self.marker_keep is not None:
                self._purge_markers(sink, view, report, self.marker_keep)
        self.progress(self._summary(report))

    def _purge_markers(self, sink: Sink, view: ActiveView, report: TargetReport, marker_keep: MarkerKeep) -> None:
        """Purge removal markers older than ``RECONCILE_MARKER_RETENTION_SECONDS`` that no event still in
        Kafka can need (see ``reconciler.inflight``: pending for this sink, or a dead letter)."""
        keep, why = marker_keep(view, self.name)
        if keep is None:
            report.markers_note = f"markers kept this pass: {why}"
            return
        written_before = self.clock() - self.config.marker_retention_seconds
        report.markers_purged = sink.purge_markers(written_before, keep)
        if keep:
            report.markers_note = f"{len(keep)} policies kept their marker: a change for them is still in Kafka"

    def _segment(self, sink: Sink, source_checksums: dict[int, RangeChecksum],
                 target_checksums: dict[int, RangeChecksum], part: Segment, strays: set[int],
                 wiped: bool) -> tuple[ScanStats, list[Drift]]:
        stats = ScanStats()
        drifts: list[Drift] = []
        size = self.config.range_size
        indexes = sorted(i for i in source_checksums.keys() | target_checksums.keys() | {s // size for s in strays}
                         if part.holds_range(i, size))
        stats.ranges_total = len(indexes)
        with self.open_view() as view:
            for index in indexes:
                differing = source_checksums.get(index, RangeChecksum()) != target_checksums.get(index, RangeChecksum())
                if not differing and not self.deep.includes(index):
                    continue
                stats.ranges_differing += differing
                diff: RangeDiff = deep_range_diff(view, sink, index, range_size=size, page_size=self.config.page_size,
                                                  strays=strays, wiped=wiped, same_ids=not differing)
                stats.deep_records += diff.records
                drifts += diff.drifts
                if stats.deep_records and stats.deep_records % 100_000 < diff.records:
                    self.progress(f"{self.name}: {stats.deep_records:,} records compared deep in this segment")
        return stats, drifts

    # ------------------------------------------------------------------ lag or drift
    def _separate_in_flight(self, view: ActiveView, drifts: list[Drift], read_from_lsn: int,
                            outcome: TargetOutcome) -> list[Drift]:
        """Drop (and list) the differences whose change is still on its way; the rest is drift."""
        if not drifts or self.stream_check is None:
            return drifts
        state = self.stream_check(view, self.name, read_from_lsn)
        outcome.report.stream_note = state.note
        if state.note:
            self.progress(f"{self.name}: {state.note}")
        if not state.checked:
            return drifts
        real: list[Drift] = []
        statuses = view.statuses([d.policy_id for d in drifts if d.kind is DriftKind.ORPHANED])
        for drift in drifts:
            if state.in_flight(drift.policy_id):
                outcome.report.in_flight += 1
                if len(outcome.inconsistencies) < self.listed_per_kind * (len(DriftKind) + 1):
                    outcome.inconsistencies.append(self._inconsistency(drift, statuses, in_flight=True))
            else:
                real.append(drift)
        return real

    def _inconsistency(self, drift: Drift, statuses: dict[int, str], *, in_flight: bool = False) -> Inconsistency:
        detail = _detail(self.name, drift, statuses.get(drift.policy_id))
        if in_flight:
            detail = f"in flight: a change for it is still on its way to {self.name} ({detail})"
        return Inconsistency(target=self.name, kind=drift.kind, policy_id=drift.policy_id, detail=detail,
                             source_hash=drift.source_hash, target_hash=drift.target_hash,
                             target_lsn=drift.target_lsn, in_flight=in_flight)

    def _record_drift(self, view: ActiveView, drifts: list[Drift], outcome: TargetOutcome) -> None:
        statuses = view.statuses([d.policy_id for d in drifts if d.kind is DriftKind.ORPHANED])
        listed = {kind: 0 for kind in DriftKind}
        for drift in drifts:
            setattr(outcome.report, drift.kind.value, getattr(outcome.report, drift.kind.value) + 1)
            if listed[drift.kind] < self.listed_per_kind:
                listed[drift.kind] += 1
                outcome.inconsistencies.append(self._inconsistency(drift, statuses))

    # ------------------------------------------------------------------ repair
    def _repair(self, sink: Sink, view: ActiveView, drifts: list[Drift], outcome: TargetOutcome) -> None:
        report = outcome.report
        self.progress(f"{self.name}: repairing {len(drifts):,} record(s), then reading each back")
        limit = self.listed_per_kind * len(DriftKind)
        for start in range(0, len(drifts), self.config.repair_batch_size):
            chunk = drifts[start:start + self.config.repair_batch_size]
            fixes = repair(view, sink, chunk, batch_size=self.config.repair_batch_size,
                           verify_attempts=self.config.verify_attempts, verify_delay=self.config.verify_delay_seconds,
                           sleep=self.sleep)
            for fix in fixes:
                if fix.action is FixAction.FAILED:
                    report.repair_failed += 1
                    if len(report.failed_ids) < limit:
                        report.failed_ids.append(fix.policy_id)
                elif fix.action in (FixAction.REAPPLIED, FixAction.REMOVED):
                    report.repaired += 1
                if len(outcome.fixes) < limit:
                    outcome.fixes.append(FixApplied(target=self.name, kind=fix.kind, policy_id=fix.policy_id,
                                                    action=fix.action, lsn=fix.lsn, error=fix.error))
        report.status = TargetStatus.UNREPAIRED if report.repair_failed else TargetStatus.REPAIRED
        if report.repair_failed:
            self.progress(f"{self.name}: {report.repair_failed} repair(s) not confirmed by a fresh read: "
                          f"{', '.join(map(str, report.failed_ids[:10]))}")

    def _summary(self, report: TargetReport) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in report.drift_by_kind().items() if count) or "no drift"
        line = (f"{self.name}: {report.status.value} — {report.target_count:,} records by checksum, "
                f"{report.deep_checked:,} compared deep, {report.ranges_differing} range(s) differing; {kinds}")
        if report.in_flight:
            line += f"; {report.in_flight} in flight (lag)"
        if report.repaired or report.repair_failed:
            line += f"; repaired and verified {report.repaired}, not verified {report.repair_failed}"
        if report.markers_purged:
            line += f"; {report.markers_purged} old removal marker(s) purged"
        return line
