"""The reconciler's metrics (reconciler/metrics.py), taken from reports as the scheduled
reconciler hands them over."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from reconciler.drift import DriftKind
from reconciler.metrics import PASS_RESULTS, ReconcileMetrics, drift_counts
from reconciler.report import ConsistencyReport, TargetReport, TargetStatus


def samples(metrics: ReconcileMetrics) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(metrics: ReconcileMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


def pass_report(*targets: TargetReport, seconds: float = 12.0) -> ConsistencyReport:
    started = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)
    report = ConsistencyReport(run_id="reconcile-t", dry_run=False, started_at=started, targets=list(targets))
    report.finish()
    report.checked_at = started + timedelta(seconds=seconds)
    return report


def test_every_drift_kind_has_a_count_in_the_target_report():
    """A new kind of drift needs a count the report carries, or it would never reach a metric."""
    counts = drift_counts(TargetReport(target="redis", status=TargetStatus.CONSISTENT))
    assert set(counts) == {kind.value for kind in DriftKind}


def test_every_alertable_series_exists_before_the_first_pass():
    metrics = ReconcileMetrics(["redis", "search"], 3600)
    for result in PASS_RESULTS:
        assert value(metrics, "reconcile_passes_total", result=result) == 0
    for status in TargetStatus:
        assert value(metrics, "reconcile_target_status", target_db="search", status=status.value) == 0
    assert value(metrics, "reconcile_repaired_records_total", target_db="redis", verified="false") == 0
    assert value(metrics, "reconcile_interval_seconds") == 3600


def test_a_repaired_pass_counts_drift_by_kind_and_verified_repairs():
    metrics = ReconcileMetrics(["redis", "search"], 3600)
    metrics.observe(pass_report(
        TargetReport(target="redis", status=TargetStatus.REPAIRED, missing=2, stale=1, repaired=3),
        TargetReport(target="search", status=TargetStatus.CONSISTENT)))
    assert value(metrics, "reconcile_passes_total", result="repaired") == 1
    assert value(metrics, "reconcile_drift_records", target_db="redis", kind="missing") == 2
    assert value(metrics, "reconcile_drift_records", target_db="redis", kind="stale") == 1
    assert value(metrics, "reconcile_drift_records", target_db="search", kind="orphaned") == 0
    assert value(metrics, "reconcile_repaired_records_total", target_db="redis", verified="true") == 3
    assert value(metrics, "reconcile_target_status", target_db="redis", status="repaired") == 1
    assert value(metrics, "reconcile_target_status", target_db="redis", status="consistent") == 0
    assert value(metrics, "reconcile_last_pass_failed") == 0
    assert value(metrics, "reconcile_last_success_timestamp_seconds") == datetime(
        2026, 12, 6, 10, 0, 12, tzinfo=timezone.utc).timestamp()
    assert value(metrics, "reconcile_pass_duration_seconds_sum") == 12.0


def test_an_unrepaired_or_unchecked_target_makes_the_pass_incomplete_and_keeps_no_old_drift():
    metrics = ReconcileMetrics(["redis", "neo4j"], 3600)
    metrics.seed_last_success(1000.0)
    metrics.observe(pass_report(TargetReport(target="neo4j", status=TargetStatus.REPAIRED, orphaned=4, repaired=4)))
    metrics.observe(pass_report(
        TargetReport(target="redis", status=TargetStatus.UNREPAIRED, missing=5, repaired=3, repair_failed=2),
        TargetReport(target="neo4j", status=TargetStatus.UNREACHABLE, error="connection refused")))
    assert value(metrics, "reconcile_passes_total", result="incomplete") == 1
    assert value(metrics, "reconcile_last_pass_failed") == 1
    assert value(metrics, "reconcile_repaired_records_total", target_db="redis", verified="false") == 2
    assert value(metrics, "reconcile_repaired_records_total", target_db="redis", verified="true") == 3
    assert value(metrics, "reconcile_target_status", target_db="neo4j", status="unreachable") == 1
    assert value(metrics, "reconcile_drift_records", target_db="neo4j", kind="orphaned") is None


def test_a_failed_pass_and_a_busy_turn():
    metrics = ReconcileMetrics(["redis"], 3600)
    metrics.seed_last_success(1000.0)
    metrics.observe(pass_report(TargetReport(target="redis", status=TargetStatus.CONSISTENT)))
    metrics.failed(busy=True)
    assert value(metrics, "reconcile_passes_total", result="busy") == 1
    assert value(metrics, "reconcile_last_pass_failed") == 0
    metrics.failed()
    assert value(metrics, "reconcile_passes_total", result="error") == 1
    assert value(metrics, "reconcile_last_pass_failed") == 1


def test_a_reconciler_that_never_succeeded_counts_from_its_start():
    metrics = ReconcileMetrics(["redis"], 3600)
    before = time.time()
    metrics.seed_last_success(None)
    assert before <= value(metrics, "reconcile_last_success_timestamp_seconds") <= time.time()
