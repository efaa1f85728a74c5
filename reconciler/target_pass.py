"""One target's share of a pass: detect drift, repair it, verify the repaired ranges.

A target that does not answer (``ping`` false, or a ``TransientError`` while it is read or
written) is reported ``unreachable`` — never as drifted — and the pass goes on with the others.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Callable

from aegis.errors import AegisError, TransientError
from aegis.retry import RetryPolicy, retry_call
from aegis.settings import ReconcilerSettings
from cdc_sinks.base import Removal, Sink, SinkRecord, StoredVersion
from cdc_sinks.checksums import ChecksumSource
from reconciler.drift import (
    PROGRESS_EVERY,
    ActiveView,
    Drift,
    DriftKind,
    RangeChecksum,
    ScanStats,
    Segment,
    differing_ranges,
    differing_ranges_by_checksum,
    range_is_consistent,
    segments,
)
from reconciler.repair import FixAction, repair_range
from reconciler.report import FixApplied, Inconsistency, TargetReport, TargetStatus

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class TargetOutcome:
    report: TargetReport
    inconsistencies: list[Inconsistency] = field(default_factory=list)
    fixes: list[FixApplied] = field(default_factory=list)


def _detail(target: str, drift: Drift, pg_status: str | None) -> str:
    if drift.kind is DriftKind.MISSING:
        return f"active in PostgreSQL, absent from {target}"
    if drift.kind is DriftKind.STALE:
        return (f"{target} holds content {drift.target_hash[:12]}… (LSN {drift.target_lsn}), "
                f"PostgreSQL has {drift.source_hash[:12]}…")
    if pg_status is None:
        return f"in {target} (LSN {drift.target_lsn}), but PostgreSQL has no policy {drift.policy_id}"
    return f"in {target} (LSN {drift.target_lsn}), but its status in PostgreSQL is {pg_status}"


class _SharedProgress:
    """What the segment threads of one target report into, under one lock."""

    def __init__(self, reconciler: "TargetReconciler", report: TargetReport):
        self.lock = threading.Lock()
        self.reconciler = reconciler
        self.report = report
        self.records = 0
        self.ranges_differing = 0
        self.listed = {kind: 0 for kind in DriftKind}

    def read(self, records: int) -> None:
        with self.lock:
            before, self.records = self.records, self.records + records
            if records and before // PROGRESS_EVERY != self.records // PROGRESS_EVERY:
                self.reconciler.progress(f"{self.reconciler.name}: read {self.records:,} records, "
                                         f"{self.ranges_differing} range(s) differ")

    def differing(self) -> None:
        with self.lock:
            self.ranges_differing += 1

    def record_drift(self, drifts, pg_status: dict[int, str], outcome: TargetOutcome, limit: int) -> None:
        name = self.reconciler.name
        with self.lock:
            for drift in drifts:
                setattr(self.report, drift.kind.value, getattr(self.report, drift.kind.value) + 1)
                if self.listed[drift.kind] < limit:
                    self.listed[drift.kind] += 1
                    outcome.inconsistencies.append(Inconsistency(
                        target=name, kind=drift.kind, policy_id=drift.policy_id,
                        detail=_detail(name, drift, pg_status.get(drift.policy_id)),
                        source_hash=drift.source_hash, target_hash=drift.target_hash, target_lsn=drift.target_lsn))

    def record_fixes(self, fixes, outcome: TargetOutcome, limit: int) -> None:
        name = self.reconciler.name
        with self.lock:
            for fix in fixes:
                if fix.action in (FixAction.REAPPLIED, FixAction.REMOVED):
                    self.report.repaired += 1
                if len(outcome.fixes) < limit:
                    outcome.fixes.append(FixApplied(target=name, kind=fix.kind, policy_id=fix.policy_id,
                                                    action=fix.action, lsn=fix.lsn, error=fix.error))


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
        if isinstance(sink, ChecksumSource):  # only then is this a ChecksumSource too
            self.range_checksums = self._range_checksums

    def _call(self, fn, what: str):
        return retry_call(fn, self.policy, what=f"{self.name} {what}", sleep=self.sleep)

    def ensure_ready(self) -> None:
        self._call(self.sink.ensure_ready, "set-up")

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        return self._call(lambda: self.sink.read_back(after_id, limit), "read-back")

    def _range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        return self._call(lambda: self.sink.range_checksums(range_size, lo, hi), "range checksums")

    def upsert_batch(self, records: list[SinkRecord]) -> None:
        self._call(lambda: self.sink.upsert_batch(records), f"re-apply of {len(records)} record(s)")

    def remove_batch(self, removals: list[Removal]) -> None:
        self._call(lambda: self.sink.remove_batch(removals), f"removal of {len(removals)} record(s)")

    def __getattr__(self, name: str):
        return getattr(self.sink, name)


class TargetReconciler:
    """Reconciles one target against PostgreSQL (see module doc)."""

    def __init__(self, name: str, build_sink: Callable[[], Sink],
                 open_view: Callable[[], AbstractContextManager[ActiveView]],
                 config: ReconcilerSettings, *, dry_run: bool, progress: Progress = lambda _: None,
                 listed_per_kind: int = 1000, retry: RetryPolicy = RetryPolicy(attempts=1),
                 sleep: Callable[[float], None] = time.sleep, full_scan: bool = False):
        self.name = name
        self.build_sink = build_sink
        self.open_view = open_view
        self.config = config
        self.dry_run = dry_run
        self.progress = progress
        self.listed_per_kind = listed_per_kind
        self.retry = retry
        self.sleep = sleep
        self.full_scan = full_scan

    def run(self, source_checksums: dict[int, RangeChecksum]) -> TargetOutcome:
        started = time.monotonic()
        outcome = TargetOutcome(TargetReport(target=self.name, status=TargetStatus.CONSISTENT))
        report = outcome.report
        sink: Sink | None = None
        try:
            sink = self.build_sink()
            if not self._answers(sink):
                report.status, report.error = (TargetStatus.UNREACHABLE,
                                                f"{self.name} did not answer a ping (is it running? `aegis stack status`)")
                return outcome
            retrying = RetryingSink(sink, self.retry, self.sleep)
            if not self.dry_run:
                retrying.ensure_ready()
            self._check_and_repair(retrying, source_checksums, outcome)
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
                except Exception:  # closing a dead connection may fail; nothing to do about it
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

    def _check_and_repair(self, sink: Sink, source_checksums: dict[int, RangeChecksum],
                          outcome: TargetOutcome) -> None:
        """Read the target in segments (threads, one PostgreSQL connection each); repair as drift appears."""
        report = outcome.report
        report.source_count = sum(c.count for c in source_checksums.values())
        parts = segments(source_checksums, range_size=self.config.range_size, count=self.config.segments)
        how = "range checksums computed by the target" if self._server_checksums(sink) else "reading every record back"
        self.progress(f"{self.name}: comparing with PostgreSQL ({report.source_count:,} active, "
                      f"{len(parts)} segment(s), {how})")
        shared = _SharedProgress(self, report)
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix=f"reconcile-{self.name}") as pool:
            results = list(pool.map(lambda part: self._segment(sink, source_checksums, part, outcome, shared), parts))
        stats = ScanStats()
        repaired_ranges: list[int] = []
        for segment_stats, segment_repairs in results:
            stats.add(segment_stats)
            repaired_ranges += segment_repairs
        report.target_count = stats.target_records
        report.ranges_total, report.ranges_differing = stats.ranges_total, stats.ranges_differing
        if report.drift_count == 0:
            report.status = TargetStatus.CONSISTENT
        elif self.dry_run:
            report.status = TargetStatus.DRIFTED
        else:
            with self.open_view() as view:
                report.unrepaired_ranges = self._verify(sink, view, sorted(repaired_ranges))
            report.status = TargetStatus.UNREPAIRED if report.unrepaired_ranges else TargetStatus.REPAIRED
        held = (f"{report.target_count:,} records, {report.ranges_differing} range(s) read back"
                if self._server_checksums(sink) else f"{report.target_count:,} records read")
        self.progress(f"{self.name}: {report.status.value} — {held}, "
                      f"missing {report.missing}, orphaned {report.orphaned}, stale {report.stale}"
                      + (f", repaired {report.repaired}" if report.repaired else ""))

    def _segment(self, sink: Sink, source_checksums: dict[int, RangeChecksum], part: Segment,
                 outcome: TargetOutcome, shared: "_SharedProgress") -> tuple[ScanStats, list[int]]:
        stats = ScanStats()
        repaired: list[int] = []
        with self.open_view() as view:
            compare = differing_ranges_by_checksum if self._server_checksums(sink) else differing_ranges
            for diff in compare(view, sink, source_checksums, range_size=self.config.range_size,
                                page_size=self.config.page_size, stats=stats, segment=part, on_progress=shared.read):
                orphans = [d.policy_id for d in diff.drifts if d.kind is DriftKind.ORPHANED]
                pg_status = view.statuses(orphans)
                shared.record_drift(diff.drifts, pg_status, outcome, self.listed_per_kind)
                shared.differing()
                if self.dry_run:
                    continue
                fixes = repair_range(view, sink, diff, batch_size=self.config.repair_batch_size)
                repaired.append(diff.range_index)
                shared.record_fixes(fixes, outcome, self.listed_per_kind * len(DriftKind))
        return stats, repaired

    def _server_checksums(self, sink: Sink) -> bool:
        return isinstance(sink, ChecksumSource) and not self.full_scan

    def _verify(self, sink: Sink, view: ActiveView, ranges: list[int]) -> list[int]:
        """Ranges still differing after ``verify_attempts`` checks (targets refresh asynchronously)."""
        pending = list(ranges)
        for attempt in range(self.config.verify_attempts):
            pending = [index for index in pending
                       if not range_is_consistent(view, sink, index, range_size=self.config.range_size,
                                                  page_size=self.config.page_size)]
            if not pending:
                break
            if attempt + 1 < self.config.verify_attempts:
                self.sleep(self.config.verify_delay_seconds)
        if pending:
            self.progress(f"{self.name}: {len(pending)} range(s) still differ after repair")
        return pending
