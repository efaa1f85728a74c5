"""The drift algorithm against an in-memory sink and view (real targets: tests/integration/reconciler)."""

import hashlib
from contextlib import contextmanager

import pytest

from aegis.retry import RetryPolicy
from aegis.settings import ReconcilerSettings
from cdc_sinks.base import PolicyDocument, SinkRecord
from reconciler.drift import (
    DriftKind,
    RangeChecksum,
    ScanStats,
    Segment,
    differing_ranges,
    differing_ranges_by_checksum,
    row_digest,
    segments,
)
from reconciler.repair import FixAction, repair_range
from reconciler.report import TargetStatus
from reconciler.target_pass import TargetReconciler
from reconciler_factories import good_row
from reconciler_fakes import FakeChecksumSink, FakeSink, FakeView

RANGE = 10


def h(i: int, version: int = 0) -> str:
    return hashlib.sha256(f"{i}/{version}".encode()).hexdigest()


def active_rows(ids, status="active"):
    return [good_row(id=i, source_id=str(i), content_hash=h(i), status=status) for i in ids]


def mirror(view: FakeView, lsn: int = 100, kind: type[FakeSink] = FakeSink) -> FakeSink:
    """A target holding exactly the active view, as CDC would have left it."""
    sink = kind()
    sink.upsert_batch([SinkRecord(r.id, lsn, r.content_hash, PolicyDocument.from_row(r))
                       for r in view.rows_by_id.values() if r.is_active])
    return sink


def diffs(view, sink, page_size=7):
    stats = ScanStats()
    compare = differing_ranges_by_checksum if isinstance(sink, FakeChecksumSink) else differing_ranges
    found = list(compare(view, sink, view.range_checksums(RANGE), range_size=RANGE, page_size=page_size, stats=stats))
    return found, stats


def record(i: int, lsn: int, version: int = 0) -> SinkRecord:
    row = good_row(id=i, source_id=str(i), content_hash=h(i, version))
    return SinkRecord(i, lsn, row.content_hash, PolicyDocument.from_row(row))


def kinds(found):
    return {(d.kind, d.policy_id) for diff in found for d in diff.drifts}


def test_row_digest_is_the_unsigned_first_four_bytes_of_md5():
    expected = int.from_bytes(hashlib.md5(b"42:" + h(42).encode()).digest()[:4], "big")
    assert row_digest(42, h(42)) == expected
    assert row_digest(42, h(42) + "  ") == expected  # CHAR(64) padding is ignored


def test_range_checksum_is_order_independent_and_sensitive_to_content():
    a, b = RangeChecksum(), RangeChecksum()
    for i in (1, 2, 3):
        a.add(i, h(i))
    for i in (3, 1, 2):
        b.add(i, h(i))
    assert a == b
    b.add(4, h(4))
    assert a != b


def test_a_clean_target_reads_every_record_and_never_descends():
    view = FakeView(active_rows(range(1, 95)))
    found, stats = diffs(view, mirror(view))
    assert found == []
    assert view.hash_queries == 0
    assert stats.target_records == 94 and stats.ranges_differing == 0 and stats.ranges_total == 10


def test_a_target_computing_its_own_checksums_is_never_read_back_when_clean():
    view = FakeView(active_rows(range(1, 95)))
    sink = mirror(view, kind=FakeChecksumSink)
    found, stats = diffs(view, sink)
    assert found == [] and sink.reads == 0 and sink.checksum_calls == 1
    assert stats.target_records == 94 and stats.ranges_total == 10


@pytest.mark.parametrize("kind", [FakeSink, FakeChecksumSink])
def test_missing_orphaned_and_stale_are_named_and_only_their_ranges_descended(kind):
    rows = active_rows(range(1, 95)) + active_rows([95], status="rejected")
    view = FakeView(rows)
    sink = mirror(view, kind=kind)
    sink.records.pop(17)                                                    # missing
    sink.upsert_batch([record(95, 120), record(500, 130)])                  # orphans: rejected / never had
    sink.upsert_batch([record(42, 100, version=1)])                         # stale
    found, stats = diffs(view, sink)
    assert kinds(found) == {(DriftKind.MISSING, 17), (DriftKind.ORPHANED, 95), (DriftKind.ORPHANED, 500),
                            (DriftKind.STALE, 42)}
    assert view.hash_queries == stats.ranges_differing == 4
    if kind is FakeChecksumSink:
        assert sink.reads <= 4 * 2  # the four differing ranges of ≤ 10 ids, pages of 7


def test_a_record_stored_without_its_digest_is_stale_and_rewritten_with_it():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view, kind=FakeChecksumSink)
    sink.records[12] = sink.records[12].__class__(12, 100, h(12))  # written before digests existed
    [diff] = diffs(view, sink)[0]
    assert kinds([diff]) == {(DriftKind.STALE, 12)}
    repair_range(view, sink, diff, batch_size=10)
    assert sink.records[12].row_digest == row_digest(12, h(12))
    assert diffs(view, sink)[0] == []


def test_a_range_the_target_lacks_entirely_is_all_missing():
    view = FakeView(active_rows(range(1, 40)))
    sink = mirror(view)
    for i in range(20, 30):
        sink.records.pop(i)
    found, _ = diffs(view, sink)
    assert kinds(found) == {(DriftKind.MISSING, i) for i in range(20, 30)}


def test_an_empty_target_is_all_missing_and_an_empty_view_all_orphans():
    view = FakeView(active_rows(range(1, 25)))
    assert len(kinds(diffs(view, FakeSink())[0])) == 24
    assert kinds(diffs(FakeView([]), mirror(view))[0]) == {(DriftKind.ORPHANED, i) for i in range(1, 25)}


def test_repair_rewrites_stale_at_its_stored_lsn_and_missing_above_markers():
    rows = active_rows(range(1, 10))
    view = FakeView(rows, lsn=5_000)
    sink = mirror(view, lsn=100)
    sink.records[3] = sink.records[3].__class__(3, 300, h(3, version=1))  # stale at LSN 300
    sink.records.pop(4)
    sink.markers[4] = 4_000                                                # missing, behind a removal marker
    sink.records[9] = sink.records[9].__class__(9, 9_999_999, h(9))        # orphan with a bogus high LSN
    view.rows_by_id[9] = good_row(id=9, content_hash=h(9), status="archived")
    [diff] = [d for d in diffs(view, sink)[0]]
    fixes = {f.policy_id: f for f in repair_range(view, sink, diff, batch_size=2)}
    assert fixes[3].action is FixAction.REAPPLIED and fixes[3].lsn == 300
    assert fixes[4].action is FixAction.REAPPLIED and fixes[4].lsn == 5_000
    assert fixes[9].action is FixAction.REMOVED and fixes[9].lsn == 9_999_999
    assert sink.records[3].content_hash == h(3) and 4 in sink.records and 9 not in sink.records
    assert diffs(view, sink)[0] == []


def test_repair_leaves_a_missing_record_that_left_the_active_view_and_removes_a_stale_one():
    view = FakeView(active_rows(range(1, 6)))
    sink = mirror(view)
    sink.records.pop(2)
    sink.records[3] = sink.records[3].__class__(3, 100, h(3, version=1))
    [diff] = diffs(view, sink)[0]
    view.rows_by_id[2] = good_row(id=2, content_hash=h(2), status="rejected")
    view.rows_by_id[3] = good_row(id=3, content_hash=h(3), status="archived")
    fixes = {f.policy_id: f.action for f in repair_range(view, sink, diff, batch_size=10)}
    assert fixes == {2: FixAction.UNCHANGED, 3: FixAction.REMOVED}
    assert 2 not in sink.records and 3 not in sink.records


def reconciler(view, sink, *, dry_run=False, retry=RetryPolicy(attempts=1), full_scan=False, **config):
    @contextmanager
    def open_view():
        yield view

    settings = ReconcilerSettings(range_size=RANGE, page_size=7, verify_delay_seconds=0, **config)
    return TargetReconciler("fake", lambda: sink, open_view, settings, dry_run=dry_run, retry=retry,
                            sleep=lambda _: None, full_scan=full_scan)


def drifted_pair(kind: type[FakeSink] = FakeSink):
    view = FakeView(active_rows(range(1, 60)))
    sink = mirror(view, kind=kind)
    sink.records.pop(5)
    sink.upsert_batch([record(77, 100)])
    return view, sink


@pytest.mark.parametrize("kind", [FakeSink, FakeChecksumSink])
def test_a_pass_repairs_and_verifies(kind):
    view, sink = drifted_pair(kind)
    outcome = reconciler(view, sink).run(view.range_checksums(RANGE))
    assert outcome.report.status is TargetStatus.REPAIRED
    assert (outcome.report.missing, outcome.report.orphaned, outcome.report.repaired) == (1, 1, 2)
    assert {(i.kind, i.policy_id) for i in outcome.inconsistencies} == {(DriftKind.MISSING, 5),
                                                                        (DriftKind.ORPHANED, 77)}
    assert "PostgreSQL has no policy 77" in [i for i in outcome.inconsistencies if i.policy_id == 77][0].detail
    assert reconciler(view, sink, dry_run=True).run(view.range_checksums(RANGE)).report.status \
        is TargetStatus.CONSISTENT
    if kind is FakeChecksumSink:  # through the retrying wrapper too: the pass, the verification, the dry run
        assert sink.checksum_calls >= 3


def test_a_dry_run_lists_drift_and_writes_nothing():
    view, sink = drifted_pair()
    writes = sink.writes
    outcome = reconciler(view, sink, dry_run=True).run(view.range_checksums(RANGE))
    assert outcome.report.status is TargetStatus.DRIFTED and outcome.fixes == []
    assert sink.writes == writes


@pytest.mark.parametrize("break_it,message", [
    (lambda sink: setattr(sink, "down", True), "did not answer"),
    (lambda sink: setattr(sink, "fail_after_reads", 2), "went away mid-scan"),
])
def test_a_target_that_is_down_is_unreachable_not_drifted(break_it, message):
    view, sink = drifted_pair()
    break_it(sink)
    report = reconciler(view, sink).run(view.range_checksums(RANGE)).report
    assert report.status is TargetStatus.UNREACHABLE
    assert message in report.error
    assert report.missing < 59  # never "everything is missing"


def test_a_repair_the_target_does_not_keep_is_reported_unrepaired():
    view, sink = drifted_pair()
    sink.upsert_batch = lambda records: None  # a target that acknowledges and drops writes
    report = reconciler(view, sink, verify_attempts=3).run(view.range_checksums(RANGE)).report
    assert report.status is TargetStatus.UNREPAIRED
    assert report.unrepaired_ranges == [0]


def test_a_passing_timeout_is_retried_not_reported_unreachable():
    view, sink = drifted_pair()
    sink.flaky_reads = 2
    report = reconciler(view, sink, retry=RetryPolicy(attempts=3, base_delay=0)).run(view.range_checksums(RANGE)).report
    assert report.status is TargetStatus.REPAIRED


def test_segments_cover_the_id_space_in_whole_ranges_with_an_open_end():
    view = FakeView(active_rows(range(1, 95)))
    parts = segments(view.range_checksums(RANGE), range_size=RANGE, count=4)
    assert len(parts) == 4 and parts[0].lo == 0 and parts[-1].hi is None
    assert all(a.hi == b.lo and a.hi % RANGE == 0 for a, b in zip(parts, parts[1:]))
    assert segments(view.range_checksums(RANGE), range_size=RANGE, count=1) == [Segment(0, None)]


@pytest.mark.parametrize("kind", [FakeSink, FakeChecksumSink])
@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_same_drift_is_found_whatever_the_number_of_segments(count, kind):
    view, sink = drifted_pair(kind)
    sink.upsert_batch([record(4_000, 100)])  # far beyond PostgreSQL's ids
    sink.records.pop(33)
    outcome = reconciler(view, sink, dry_run=True, segments=count).run(view.range_checksums(RANGE))
    assert {(i.kind, i.policy_id) for i in outcome.inconsistencies} == {
        (DriftKind.MISSING, 5), (DriftKind.MISSING, 33), (DriftKind.ORPHANED, 77), (DriftKind.ORPHANED, 4_000)}
    assert outcome.report.target_count == len(sink.records)


def test_a_full_scan_also_finds_a_hash_edited_behind_the_stored_digest():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view, kind=FakeChecksumSink)
    good = sink.records[8]
    sink.records[8] = good.__class__(8, good.lsn, h(8, version=1), row_digest=good.row_digest)  # hash edited by hand
    assert reconciler(view, sink, dry_run=True).run(view.range_checksums(RANGE)).report.status \
        is TargetStatus.CONSISTENT  # the target's own checksums trust its stored digests
    outcome = reconciler(view, sink, full_scan=True).run(view.range_checksums(RANGE))
    assert {(i.kind, i.policy_id) for i in outcome.inconsistencies} == {(DriftKind.STALE, 8)}
    assert outcome.report.status is TargetStatus.REPAIRED and sink.records[8].content_hash == h(8)
