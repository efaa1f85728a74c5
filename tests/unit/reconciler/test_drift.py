"""The drift algorithm against an in-memory sink and view (real targets: tests/integration/reconciler)."""

import hashlib
from contextlib import contextmanager

import pytest

from aegis.retry import RetryPolicy
from aegis.settings import ReconcilerSettings
from cdc_sinks.base import Defect, DefectKind, Removal, SinkRecord
from reconciler.drift import DeepPlan, DriftKind, RangeChecksum, Segment, row_digest, segments
from reconciler.inflight import StreamState
from reconciler.report import TargetStatus
from reconciler.target_pass import TargetReconciler
from testkit.doubles import FakeSink, FakeView
from testkit.policies import good_row, sink_record

RANGE = 10


def h(i: int, version: int = 0) -> str:
    return hashlib.sha256(f"{i}/{version}".encode()).hexdigest()


def active_rows(ids, status="active"):
    return [good_row(id=i, source_id=str(i), content_hash=h(i), title=f"정책 {i}", status=status) for i in ids]


def record(i: int, lsn: int, version: int = 0) -> SinkRecord:
    row = good_row(id=i, source_id=str(i), content_hash=h(i, version), title=f"정책 {i} v{version}")
    return sink_record(row, lsn)


def mirror(view: FakeView, lsn: int = 100) -> FakeSink:
    """A target holding exactly the active view, as CDC would have left it."""
    sink = FakeSink()
    sink.upsert_batch([sink_record(r, lsn) for r in view.rows_by_id.values() if r.is_active])
    return sink


def reconciler(view, sink, *, dry_run=False, retry=RetryPolicy(attempts=1), deep=DeepPlan(), stream=None,
               keep=None, clock=lambda: 2_000.0, **config):
    @contextmanager
    def open_view():
        yield view

    settings = ReconcilerSettings(range_size=RANGE, page_size=7, verify_delay_seconds=0, **config)
    check = (lambda _view, _name, _lsn: stream) if stream is not None else None
    return TargetReconciler("fake", lambda: sink, open_view, settings, dry_run=dry_run, retry=retry,
                            sleep=lambda _: None, deep=deep, stream_check=check,
                            marker_keep=(lambda _view, _name: keep) if keep is not None else None, clock=clock)


def run(view, sink, **kwargs):
    return reconciler(view, sink, **kwargs).run(view.range_checksums(RANGE))


def listed(outcome, *, in_flight=False):
    return {(i.kind, i.policy_id) for i in outcome.inconsistencies if i.in_flight is in_flight}


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


def test_a_clean_target_is_compared_by_checksums_alone():
    view = FakeView(active_rows(range(1, 95)))
    sink = mirror(view)
    outcome = run(view, sink, dry_run=True)
    assert outcome.report.status is TargetStatus.CONSISTENT and outcome.inconsistencies == []
    assert sink.reads == 1 and outcome.report.deep_checked == 0  # one checksum call, no record read
    assert outcome.report.target_count == 94 and outcome.report.ranges_total == 10


def test_the_deep_slice_reads_one_nth_of_the_ranges_and_every_pass_covers_the_rest():
    view = FakeView(active_rows(range(1, 100)))
    sink = mirror(view)
    checked = [run(view, sink, dry_run=True, deep=DeepPlan(slice_index=i, slices=4)).report.deep_checked
               for i in range(4)]
    assert sum(checked) == 99 and all(0 < c < 99 for c in checked)
    assert run(view, sink, dry_run=True, deep=DeepPlan(every=True)).report.deep_checked == 99


def test_missing_orphaned_and_stale_are_named_and_only_their_ranges_read_deep():
    view = FakeView(active_rows(range(1, 95)) + active_rows([95], status="rejected"))
    sink = mirror(view)
    sink.records.pop(17)                                        # missing
    sink.upsert_batch([record(95, 120), record(500, 130)])      # orphans: rejected / never had
    sink.upsert_batch([record(42, 100, version=1)])             # stale: another version, LSN equal
    outcome = run(view, sink, dry_run=True)
    assert listed(outcome) == {(DriftKind.MISSING, 17), (DriftKind.ORPHANED, 95), (DriftKind.ORPHANED, 500),
                               (DriftKind.STALE, 42)}
    assert outcome.report.status is TargetStatus.DRIFTED and outcome.report.ranges_differing == 4
    assert outcome.report.deep_checked < 45  # four ranges of ≤ 10 records (plus the orphan's)


def test_content_edited_behind_the_sink_is_found_by_a_deep_read_not_by_checksums():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view)
    sink.edit(8, content={**sink.records[8].content, "title": "고친 제목"})
    assert run(view, sink, dry_run=True).report.status is TargetStatus.CONSISTENT  # bookkeeping intact
    outcome = run(view, sink, dry_run=True, deep=DeepPlan(every=True))
    assert listed(outcome) == {(DriftKind.CONTENT, 8)} and "title" in outcome.inconsistencies[0].detail


def test_a_deep_read_of_a_matching_range_reads_every_record_without_listing_its_ids_again():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view)
    sink.edit(8, content={**sink.records[8].content, "title": "고친 제목"})
    listings = []
    read_back = sink.read_back
    sink.read_back = lambda after_id, limit: listings.append(after_id) or read_back(after_id, limit)
    outcome = run(view, sink, dry_run=True, deep=DeepPlan(every=True))
    assert listed(outcome) == {(DriftKind.CONTENT, 8)} and outcome.report.deep_checked == 29
    assert listings == []  # the checksums matched: the ids are PostgreSQL's; every record is still read
    sink.records[95] = sink.records[8]  # an orphan: that range's checksum differs, so its ids are listed
    outcome = run(view, sink, dry_run=True, deep=DeepPlan(every=True))
    assert (DriftKind.ORPHANED, 95) in listed(outcome) and listings


def test_bookkeeping_edited_with_content_intact_is_metadata_drift():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view)
    sink.edit(3, content_hash=h(3, version=9))           # hash edited, digest and content intact
    sink.edit(4, defects=(Defect(DefectKind.METADATA, "member carries another digest"),))
    outcome = run(view, sink, dry_run=True, deep=DeepPlan(every=True))
    assert listed(outcome) == {(DriftKind.METADATA, 3), (DriftKind.METADATA, 4)}


def test_a_partial_record_and_a_missing_field_are_partial_drift():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view)
    sink.edit(5, defects=(Defect(DefectKind.PARTIAL, "document without its version hash"),))
    content = dict(sink.records[6].content)
    del content["content"]
    sink.edit(6, content=content)
    outcome = run(view, sink, dry_run=True, deep=DeepPlan(every=True))
    assert listed(outcome) == {(DriftKind.PARTIAL, 5), (DriftKind.PARTIAL, 6)}


def test_a_stray_record_outside_the_sinks_own_index_is_an_orphan():
    view = FakeView(active_rows(range(1, 30)))
    sink = mirror(view)
    sink.upsert_batch([record(700, 50)])
    sink.strays.add(700)  # reachable by a reader, not listed by read_back or the checksums
    assert run(view, sink, dry_run=True).report.status is TargetStatus.CONSISTENT
    outcome = run(view, sink, deep=DeepPlan(every=True))
    assert listed(outcome) == {(DriftKind.ORPHANED, 700)} and outcome.report.repaired == 1
    assert 700 not in sink.records


def test_an_empty_target_is_wiped_and_an_empty_view_all_orphans():
    view = FakeView(active_rows(range(1, 25)))
    outcome = run(view, FakeSink(), dry_run=True)
    assert listed(outcome) == {(DriftKind.WIPED, i) for i in range(1, 25)}
    assert listed(run(FakeView([]), mirror(view), dry_run=True)) == {(DriftKind.ORPHANED, i) for i in range(1, 25)}


def test_a_pass_repairs_and_verifies_every_kind_with_a_fresh_read():
    view = FakeView(active_rows(range(1, 60)), lsn=5_000)
    sink = mirror(view)
    sink.records.pop(5)
    sink.upsert_batch([record(77, 100)])
    sink.edit(8, content={"id": 8, "title": "x", "content": "y"})
    sink.edit(9, content_hash=h(9, version=3))
    outcome = run(view, sink, deep=DeepPlan(every=True))
    report = outcome.report
    assert report.status is TargetStatus.REPAIRED and report.repaired == 4 and report.repair_failed == 0
    assert (report.missing, report.orphaned, report.content, report.metadata) == (1, 1, 1, 1)
    assert "PostgreSQL has no policy 77" in [i for i in outcome.inconsistencies if i.policy_id == 77][0].detail
    assert sink.rewrites >= 1
    again = run(view, sink, dry_run=True, deep=DeepPlan(every=True))
    assert again.report.status is TargetStatus.CONSISTENT


def test_a_repair_passes_a_guard_raised_above_the_lsn_by_a_write_outside_the_sink():
    view = FakeView(active_rows(range(1, 20)))
    sink = mirror(view, lsn=100)
    sink.edit(3, guard=101, content_hash=h(3, version=5))  # an `_update` API call: hash edited, version + 1
    outcome = run(view, sink, deep=DeepPlan(every=True))
    assert outcome.report.status is TargetStatus.REPAIRED
    assert sink.records[3].content_hash == h(3) and sink.records[3].lsn == 101
    assert [f.lsn for f in outcome.fixes if f.policy_id == 3] == [101]


def test_a_repair_a_fresh_read_does_not_confirm_is_a_failure_with_its_ids():
    view = FakeView(active_rows(range(1, 60)))
    sink = mirror(view)
    sink.records.pop(5)
    sink.drop_writes = True  # acknowledges writes and keeps nothing
    outcome = run(view, sink, verify_attempts=3)
    assert outcome.report.status is TargetStatus.UNREPAIRED and outcome.report.failed_ids == [5]
    assert outcome.report.repaired == 0 and outcome.report.repair_failed == 1
    assert "fresh read still shows missing" in outcome.fixes[0].error


def test_a_repair_never_overwrites_a_newer_change_the_stream_wrote_meanwhile():
    view = FakeView(active_rows(range(1, 20)))
    sink = mirror(view, lsn=100)
    sink.edit(4, content={"id": 4, "title": "edited", "content": "by hand"})
    newer = record(4, 900, version=2)  # the stream delivers version 2 after the check read the target
    original = sink.read_records

    def read_then_stream(ids):
        found = original(ids)
        if 4 in ids and sink.records[4].lsn == 100:
            sink.upsert_batch([newer])
        return found

    sink.read_records = read_then_stream
    run(view, sink, deep=DeepPlan(every=True))
    assert sink.records[4].lsn == 900 and sink.records[4].content_hash == newer.content_hash


def test_changes_in_flight_are_lag_not_drift_and_are_not_repaired():
    view = FakeView(active_rows(range(1, 40)))
    sink = mirror(view)
    sink.records.pop(5)
    sink.records.pop(6)
    stream = StreamState(checked=True, pending_ids={5}, pending_messages=1)
    outcome = run(view, sink, stream=stream)
    assert listed(outcome, in_flight=True) == {(DriftKind.MISSING, 5)}
    assert listed(outcome) == {(DriftKind.MISSING, 6)}
    assert outcome.report.in_flight == 1 and outcome.report.missing == 1 and outcome.report.repaired == 1
    assert 5 not in sink.records and 6 in sink.records
    lagging = run(view, sink, stream=stream)
    assert lagging.report.status is TargetStatus.LAGGING and lagging.report.repaired == 0


def test_a_stream_that_is_behind_leaves_every_difference_to_it():
    view = FakeView(active_rows(range(1, 40)))
    sink = mirror(view)
    sink.records.pop(5)
    outcome = run(view, sink, stream=StreamState(checked=True, behind=True, note="behind"))
    assert outcome.report.status is TargetStatus.LAGGING and outcome.report.in_flight == 1
    assert outcome.report.stream_note == "behind" and 5 not in sink.records


def test_a_dry_run_lists_drift_and_writes_nothing():
    view = FakeView(active_rows(range(1, 60)))
    sink = mirror(view)
    sink.records.pop(5)
    writes = sink.writes
    outcome = run(view, sink, dry_run=True)
    assert outcome.report.status is TargetStatus.DRIFTED and outcome.fixes == []
    assert sink.writes == writes


@pytest.mark.parametrize("break_it,message", [
    (lambda sink: setattr(sink, "down", True), "did not answer"),
    (lambda sink: setattr(sink, "fail_after_reads", 1), "went away mid-scan"),
])
def test_a_target_that_is_down_is_unreachable_not_drifted(break_it, message):
    view = FakeView(active_rows(range(1, 60)))
    sink = mirror(view)
    sink.records.pop(5)
    break_it(sink)
    report = run(view, sink).report
    assert report.status is TargetStatus.UNREACHABLE
    assert message in report.error
    assert report.missing < 59  # never "everything is missing"


def test_a_passing_timeout_is_retried_not_reported_unreachable():
    view = FakeView(active_rows(range(1, 60)))
    sink = mirror(view)
    sink.records.pop(5)
    sink.flaky_reads = 2
    assert run(view, sink, retry=RetryPolicy(attempts=3, base_delay=0)).report.status is TargetStatus.REPAIRED


def test_segments_cover_the_id_space_in_whole_ranges_with_an_open_end():
    view = FakeView(active_rows(range(1, 95)))
    parts = segments(view.range_checksums(RANGE), range_size=RANGE, count=4)
    assert len(parts) == 4 and parts[0].lo == 0 and parts[-1].hi is None
    assert all(a.hi == b.lo and a.hi % RANGE == 0 for a, b in zip(parts, parts[1:]))
    assert segments(view.range_checksums(RANGE), range_size=RANGE, count=1) == [Segment(0, None)]


@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_same_drift_is_found_whatever_the_number_of_segments(count):
    view = FakeView(active_rows(range(1, 60)))
    sink = mirror(view)
    sink.records.pop(5)
    sink.upsert_batch([record(77, 100), record(4_000, 100)])  # one far beyond PostgreSQL's ids
    sink.records.pop(33)
    outcome = run(view, sink, dry_run=True, segments=count)
    assert listed(outcome) == {(DriftKind.MISSING, 5), (DriftKind.MISSING, 33), (DriftKind.ORPHANED, 77),
                               (DriftKind.ORPHANED, 4_000)}
    assert outcome.report.target_count == len(sink.records)


def test_old_markers_are_purged_unless_kafka_still_holds_a_change_for_their_policy():
    view = FakeView(active_rows(range(1, 20)) + active_rows([30, 31, 32], status="archived"))
    sink = mirror(view)
    sink.remove_batch([Removal(30, 500), Removal(31, 500), Removal(32, 500)])  # written at fake time 1000
    outcome = run(view, sink, keep=({31}, ""), clock=lambda: 1_000.0 + 100, marker_retention_seconds=60)
    assert outcome.report.markers_purged == 2 and set(sink.markers) == {31}
    assert run(view, sink, keep=(None, "the topic could not be read"), clock=lambda: 9e9,
               marker_retention_seconds=60).report.markers_note.endswith("could not be read")
    assert set(sink.markers) == {31}
    assert run(view, sink, keep=(set(), ""), clock=lambda: 1_030.0, marker_retention_seconds=60
               ).report.markers_purged == 0  # younger than the retention
    assert run(view, sink, dry_run=True, keep=(set(), ""), clock=lambda: 9e9).report.markers_purged == 0
