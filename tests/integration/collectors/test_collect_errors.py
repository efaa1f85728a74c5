"""Each real error shape: a clear logged error with its DP_1xxx code, the right retry or
circuit-breaker behaviour, nothing half-written, and the other sources carry on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collectors.runner import Collector
from collectors.samples.faults import Fault, FaultKind
from collectors.sources.registry import CollectorState

from collectors_helpers import events, settings_for, wipe_collected

pytestmark = pytest.mark.integration

API = ["bizinfo", "kstartup", "youthcenter", "gov24", "korea_rss"]


@pytest.fixture
def clean(stack, db, sample_server):
    wipe_collected(db)
    sample_server.faults.reset()
    yield
    sample_server.faults.reset()


def count(db, source: str) -> int:
    return db.execute("SELECT count(*) FROM policies WHERE source_system = %s", (source,)).fetchone()[0]


def logged(caplog, source: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "source", None) == source and r.levelno >= logging.ERROR]


@pytest.mark.parametrize("source, fault, code, requests, message", [
    ("bizinfo", Fault(source="bizinfo", kind=FaultKind.AUTH), "DP_1001", 1, "존재하지 않는 인증키"),
    ("kstartup", Fault(source="kstartup", kind=FaultKind.AUTH), "DP_1001", 1, "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ("gov24", Fault(source="gov24", kind=FaultKind.AUTH), "DP_1001", 1, "HTTP 401"),
    ("kstartup", Fault(source="kstartup", kind=FaultKind.QUOTA), "DP_1002", 1, "LIMITED_NUMBER_OF_SERVICE_REQUESTS"),
    ("youthcenter", Fault(source="youthcenter", kind=FaultKind.HTTP_ERROR, status=503, times=-1), "DP_1001", 3, "HTTP 503"),
    ("gov24", Fault(source="gov24", kind=FaultKind.GATEWAY, code="01", times=-1), "DP_1001", 3, "APPLICATION_ERROR"),
    ("youthcenter", Fault(source="youthcenter", kind=FaultKind.CUT_JSON, times=-1), "DP_1004", 3, "not valid JSON"),
    ("korea_rss", Fault(source="korea_rss", kind=FaultKind.SLOW, delay=1.5, times=-1), "DP_1001", 3, "no answer"),
])
def test_error_shape_fails_only_its_source(stack, db, sample_server, clean, caplog, source, fault, code, requests, message):
    sample_server.faults.add(fault)
    settings = settings_for(stack, sample_server, apis={"korea_rss": {"timeout_seconds": 0.5}})
    caplog.set_level(logging.INFO)

    result = Collector(settings).run_once(API)

    by_source = {s.source: s for s in result.summaries}
    failed = by_source[source]
    assert failed.error is not None and failed.error.code == code and message in failed.error.message
    assert failed.error.hint
    assert count(db, source) == 0 and failed.new == 0                 # nothing of it written
    assert sample_server.faults.requests(source) == requests          # retried only when transient
    assert [r.code for r in logged(caplog, source)] == [code]         # one clear error line with the code
    for other, summary in by_source.items():                          # the others carried on
        if other != source:
            assert summary.error is None and summary.new > 0 and count(db, other) == summary.new


def test_truncated_response_is_retried_and_then_stored(stack, db, sample_server, clean):
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.TRUNCATED, page=2))
    (summary,) = Collector(settings_for(stack, sample_server)).run_once(["kstartup"]).summaries
    assert summary.error is None and summary.new == 179 and count(db, "kstartup") == 179
    assert sample_server.faults.requests("kstartup") == 3  # page 1, page 2 cut off, page 2 again


def test_a_failing_page_writes_nothing_of_itself(stack, db, sample_server, clean):
    sample_server.faults.add(Fault(source="bizinfo", kind=FaultKind.HTTP_ERROR, status=500, page=2, times=-1))
    events_before = len(events(db))
    (summary,) = Collector(settings_for(stack, sample_server)).run_once(["bizinfo"]).summaries
    assert summary.error.code == "DP_1001" and summary.pages == 1
    assert count(db, "bizinfo") == 100                                # page 1 whole, page 2 not at all
    assert len(events(db)) - events_before == 100
    stored_ids = {r[0] for r in db.execute("SELECT source_id FROM policies WHERE source_system = 'bizinfo'")}
    first_page = {r["pblancId"] for r in sample_server.catalog.bizinfo[:100]}
    assert stored_ids == first_page


def test_quota_stops_the_source_until_the_next_window(stack, db, sample_server, clean):
    sample_server.faults.add(Fault(source="gov24", kind=FaultKind.QUOTA, page=2))
    collector = Collector(settings_for(stack, sample_server))
    (first,) = collector.run_once(["gov24"]).summaries
    assert first.error.code == "DP_1002" and count(db, "gov24") == 100
    requests = sample_server.faults.requests("gov24")
    (second,) = collector.run_once(["gov24"]).summaries
    assert second.skipped and "quota" in second.skipped and second.error.code == "DP_1002"
    assert sample_server.faults.requests("gov24") == requests         # not called again before 00:00 KST
    assert collector.state.quota.blocked_until("gov24") is not None


def test_circuit_breaker_opens_after_five_failures_and_recovers(stack, db, sample_server, clean):
    now = [0.0]
    state = CollectorState(breaker_threshold=5, breaker_recovery_seconds=60, breaker_clock=lambda: now[0])
    collector = Collector(settings_for(stack, sample_server), state=state)
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.HTTP_ERROR, status=502, times=-1))

    collector.run_once(["kstartup"])      # 3 attempts
    collector.run_once(["kstartup"])      # 2 more: the fifth consecutive failure opens the circuit
    assert sample_server.faults.requests("kstartup") == 5
    (blocked,) = collector.run_once(["kstartup"]).summaries
    assert blocked.skipped and "circuit open" in blocked.skipped and blocked.error.code == "DP_1001"
    assert sample_server.faults.requests("kstartup") == 5             # failed fast: nothing sent

    now[0] += 60                                                       # half-open: one trial goes out
    sample_server.faults.reset()
    (recovered,) = collector.run_once(["kstartup"]).summaries
    assert recovered.error is None and recovered.new == 179


def test_robots_txt_blocks_a_board(stack, db, sample_server, clean, tmp_path: Path):
    (tmp_path / "closed-gu.yaml").write_text(
        "name: closed-gu\ntitle: 닫힌구 공지\norganization: 닫힌구\nregion: 서울특별시 닫힌구\n"
        "start_url: '{samples_url}/boards/closed-gu/list'\nallowed_prefix: '{samples_url}/boards/closed-gu/'\n"
        "id_pattern: 'id=(\\d+)'\nlist: {rows: 'li', link: 'a::attr(href)'}\ndetail: {body: 'div'}\n", encoding="utf-8")
    settings = settings_for(stack, sample_server, boards_dir=tmp_path)
    sample_server.faults.add(Fault(source="board:nuri-gu", kind=FaultKind.HTTP_ERROR, status=503, times=-1))
    result = Collector(settings).run_once(["board:closed-gu", "board:nuri-gu", "kstartup"])
    by_source = {s.source: s for s in result.summaries}
    assert by_source["board:closed-gu"].error.code == "DP_1003" and "robots.txt" in by_source["board:closed-gu"].error.message
    assert by_source["board:nuri-gu"].error.code == "DP_1001" and count(db, "board:nuri-gu") == 0
    assert by_source["kstartup"].error is None and count(db, "kstartup") == 179
