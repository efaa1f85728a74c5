import threading
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from console.cli import cli
from console.cli.reconcile import render_summary
from reconciler.drift import DriftKind
from reconciler.report import ConsistencyReport, Inconsistency, TargetReport, TargetStatus
from reconciler.runner import PassOptions, ReconcileBusy, run_scheduled


def report(*statuses: TargetStatus, dry_run: bool = False) -> ConsistencyReport:
    r = ConsistencyReport(run_id="reconcile-test", dry_run=dry_run, started_at=datetime.now(timezone.utc))
    for i, status in enumerate(statuses):
        drift = 0 if status is TargetStatus.CONSISTENT else 1
        r.targets.append(TargetReport(target=f"t{i}", status=status, missing=drift,
                                      repaired=drift if status is TargetStatus.REPAIRED else 0))
    return r.finish()


@pytest.mark.parametrize("statuses,dry_run,code,consistent", [
    ((TargetStatus.CONSISTENT, TargetStatus.CONSISTENT), False, 0, True),
    ((TargetStatus.CONSISTENT, TargetStatus.REPAIRED), False, 0, True),
    ((TargetStatus.CONSISTENT, TargetStatus.DRIFTED), True, 1, False),
    ((TargetStatus.DRIFTED, TargetStatus.UNREACHABLE), True, 2, False),
    ((TargetStatus.REPAIRED, TargetStatus.UNREACHABLE), False, 2, False),
    ((TargetStatus.UNREPAIRED,), False, 2, False),
    ((TargetStatus.FAILED,), False, 2, False),
])
def test_exit_codes_and_consistency(statuses, dry_run, code, consistent):
    r = report(*statuses, dry_run=dry_run)
    assert r.exit_code() == code
    assert r.is_consistent is consistent


def test_the_sync_event_summarises_each_target():
    event = report(TargetStatus.REPAIRED, TargetStatus.UNREACHABLE).sync_event()
    assert event.sync_id == "reconcile-test" and event.policies_synced == 1
    assert [(s.target_db, s.success, s.records_synced) for s in event.sync_results] == [("t0", True, 1),
                                                                                       ("t1", False, 0)]


def test_the_summary_names_each_target_each_drift_and_the_verdict():
    r = report(TargetStatus.DRIFTED, TargetStatus.UNREACHABLE, dry_run=True)
    r.targets[1].error = "[DP_3005] redis did not answer a ping"
    r.inconsistencies.append(Inconsistency(target="t0", kind=DriftKind.MISSING, policy_id=42,
                                           detail="active in PostgreSQL, absent from t0"))
    text = "\n".join(render_summary(r))
    assert "dry run" in text and "t0" in text and "drifted" in text and "unreachable" in text
    assert "#42: active in PostgreSQL, absent from t0" in text
    assert "redis did not answer" in text
    assert text.endswith("(exit 2)")


def test_reconcile_needs_once_or_schedule():
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "reconcile"])
    assert result.exit_code == 2
    assert "DP_5001" in result.stderr and "--once" in result.stderr


class StubReconciler:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def run_pass(self, options):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else report(TargetStatus.CONSISTENT)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_the_schedule_runs_now_and_then_every_interval_and_survives_a_busy_turn():
    stub = StubReconciler([ReconcileBusy("another reconcile pass is running")])
    stop = threading.Event()
    reports, errors = [], []

    def on_report(r):
        reports.append(r)
        if len(reports) == 2:
            stop.set()

    worker = threading.Thread(target=run_scheduled, args=(stub, PassOptions()),
                              kwargs=dict(interval_seconds=1, on_report=on_report, on_error=errors.append,
                                          stop=stop), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert stub.calls == 3  # the busy first turn, then two passes one interval apart
    assert len(errors) == 1 and "another reconcile pass" in errors[0].message
