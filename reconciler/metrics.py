"""The reconciler's Prometheus metrics, served by `aegis reconcile --schedule --metrics-port`.

Taken from each pass's ``ConsistencyReport`` as it is, without knowing its kinds in advance:

* ``reconcile_pass_duration_seconds`` — how long each pass took (histogram);
* ``reconcile_passes_total{result}`` — passes by result: consistent, repaired, drifted (a dry run
  found drift), incomplete (a target not checked, or not repaired), error (the pass failed),
  busy (another pass held the lock: the turn was skipped);
* ``reconcile_last_pass_failed`` — 1 when the last pass raised, or left a target unchecked or
  unrepaired (0 before the first pass, and after a good one);
* ``reconcile_last_success_timestamp_seconds`` — when a pass last checked every target and left it
  consistent: seeded from PostgreSQL at start, so a restart does not forget it (never: the
  process's start, so "no success for two intervals" still means something);
* ``reconcile_interval_seconds`` — RECONCILE_INTERVAL, so an alert can tell a pass is overdue;
* ``reconcile_drift_records{target_db,kind}`` — records out of step in the last pass, for every
  drift kind the target's report counts;
* ``reconcile_target_status{target_db,status}`` — 1 for the status each target ended the last
  pass in (every ``TargetStatus`` is exported, 0 for the others);
* ``reconcile_repaired_records_total{target_db,verified}`` — records repaired, ``verified="true"``
  when a fresh read of the record matched PostgreSQL, ``"false"`` when it did not (DP_3010).

Every label value an alert may select is created at start (0), so it is exported before the
first pass and ``rate``/``increase`` see its first change.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reconciler.drift import DriftKind
from reconciler.report import ConsistencyReport, TargetReport, TargetStatus

PASS_RESULTS = ("consistent", "repaired", "drifted", "incomplete", "error", "busy")
_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


def drift_counts(target: TargetReport) -> dict[str, int]:
    """Every drift count the report carries: a mapping of kind to count if it has one, else each
    ``DriftKind`` whose value names an integer field of the report."""
    for name in ("drift_counts", "drift"):
        mapping = getattr(target, name, None)
        if isinstance(mapping, Mapping):
            return {getattr(kind, "value", str(kind)): int(count) for kind, count in mapping.items()}
    counts = {}
    for kind in DriftKind:
        value = getattr(target, kind.value, None)
        if isinstance(value, int) and not isinstance(value, bool):
            counts[kind.value] = value
    return counts


def pass_result(report: ConsistencyReport) -> str:
    code = report.exit_code()
    if code == 0:
        return "repaired" if report.drift_found else "consistent"
    return "drifted" if code == 1 else "incomplete"


class ReconcileMetrics:
    def __init__(self, targets: list[str], interval_seconds: float, registry: CollectorRegistry | None = None):
        self.registry = r = registry or CollectorRegistry()
        self.duration = Histogram("reconcile_pass_duration_seconds", "Duration of one reconcile pass",
                                  buckets=_DURATION_BUCKETS, registry=r)
        self.passes = Counter("reconcile_passes_total", "Reconcile passes by result", ["result"], registry=r)
        self.last_failed = Gauge("reconcile_last_pass_failed",
                                 "1 when the last pass failed or left a target unchecked or unrepaired", registry=r)
        self.last_success = Gauge("reconcile_last_success_timestamp_seconds",
                                  "When a pass last checked every target and left it consistent", registry=r)
        self.interval = Gauge("reconcile_interval_seconds", "Seconds between scheduled passes (RECONCILE_INTERVAL)",
                              registry=r)
        self.drift = Gauge("reconcile_drift_records", "Records out of step in the last pass, by target and kind",
                           ["target_db", "kind"], registry=r)
        self.status = Gauge("reconcile_target_status", "1 for the status each target ended the last pass in",
                            ["target_db", "status"], registry=r)
        self.repaired = Counter("reconcile_repaired_records_total",
                                "Records repaired; verified=true when a fresh read of the record matched PostgreSQL",
                                ["target_db", "verified"], registry=r)
        self.interval.set(interval_seconds)
        for result in PASS_RESULTS:
            self.passes.labels(result)
        for target in targets:
            self._target_series(target)

    def _target_series(self, target: str) -> None:
        for status in TargetStatus:
            self.status.labels(target, status.value)
        for verified in ("true", "false"):
            self.repaired.labels(target, verified)

    def seed_last_success(self, timestamp: float | None) -> None:
        """The last consistent pass stored before this process started (None: never, so now)."""
        if timestamp is None:
            self.last_success.set_to_current_time()
        else:
            self.last_success.set(timestamp)

    def observe(self, report: ConsistencyReport) -> None:
        """Take one finished pass's report."""
        result = pass_result(report)
        self.passes.labels(result).inc()
        self.duration.observe(max((report.checked_at - report.started_at).total_seconds(), 0.0))
        self.last_failed.set(1 if result == "incomplete" else 0)
        if result in ("consistent", "repaired"):
            self.last_success.set(report.checked_at.timestamp())
        for target in report.targets:
            self._target_series(target.target)
            for status in TargetStatus:
                self.status.labels(target.target, status.value).set(1 if target.status is status else 0)
            if target.repaired:  # repairs a fresh read of the target confirmed
                self.repaired.labels(target.target, "true").inc(target.repaired)
            if target.repair_failed:  # repairs written that a fresh read did not confirm
                self.repaired.labels(target.target, "false").inc(target.repair_failed)
            checked = target.status not in (TargetStatus.UNREACHABLE, TargetStatus.FAILED)
            counts = drift_counts(target) if checked else {}
            for kind in {k.value for k in DriftKind} | set(counts):
                if kind in counts:
                    self.drift.labels(target.target, kind).set(counts[kind])
                else:  # not checked this pass: no figure rather than an old one
                    try:
                        self.drift.remove(target.target, kind)
                    except KeyError:
                        pass

    def failed(self, *, busy: bool = False) -> None:
        """A pass that raised (``busy``: skipped because another pass held the lock)."""
        self.passes.labels("busy" if busy else "error").inc()
        if not busy:
            self.last_failed.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


LAST_SUCCESS_SQL = ("SELECT extract(epoch FROM checked_at) FROM consistency_reports "
                    "WHERE NOT dry_run AND is_consistent ORDER BY checked_at DESC LIMIT 1")
