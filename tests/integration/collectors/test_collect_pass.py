"""One pass loads every source faithfully; a second writes nothing; one upstream change gives
exactly one update and one event; a malformed record is dead-lettered while its page is stored."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from collectors.parsing.dates import KST
from collectors.runner import Collector

from collectors_helpers import SOURCE_SYSTEMS, events, settings_for, wipe_collected

pytestmark = pytest.mark.integration

EXPECTED_COUNTS = {"bizinfo": 230, "kstartup": 179, "youthcenter": 120, "gov24": 150, "korea_rss": 24,
                   "portal:mss-notices": 45, "board:garam-si": 24, "board:nuri-gu": 18}


def row(conn, source_system: str, source_id: str) -> dict:
    cur = conn.execute("SELECT p.*, s.raw_data FROM policies p LEFT JOIN policy_sources s ON s.policy_id = p.id "
                       "WHERE p.source_system = %s AND p.source_id = %s", (source_system, source_id))
    names = [c.name for c in cur.description]
    found = cur.fetchone()
    assert found is not None, f"{source_system} {source_id} not stored"
    return dict(zip(names, found))


def snapshot(conn) -> dict:
    return {
        "rows": conn.execute("SELECT source_system, source_id, xmin::text, updated_at, content_hash FROM policies "
                             "WHERE source_system = ANY(%s) ORDER BY 1, 2", (SOURCE_SYSTEMS,)).fetchall(),
        "history": conn.execute("SELECT count(*) FROM processing_history").fetchone()[0],
        "dead": conn.execute("SELECT count(*) FROM dead_letters WHERE source_system = ANY(%s)", (SOURCE_SYSTEMS,)).fetchone()[0],
        "events": len(events(conn)),
    }


@pytest.fixture(scope="module")
def first_pass(stack, db, sample_server):
    wipe_collected(db)
    collector = Collector(settings_for(stack, sample_server))
    result = collector.run_once()
    return collector, result


def test_first_pass_loads_every_source(first_pass, db):
    _, result = first_pass
    by_source = {s.source: s for s in result.summaries}
    assert set(by_source) == set(EXPECTED_COUNTS)
    for name, expected in EXPECTED_COUNTS.items():
        summary = by_source[name]
        assert summary.error is None, summary.error
        assert summary.new == expected and summary.changed == 0 and summary.unchanged == 0, name
        stored = db.execute("SELECT count(*), count(*) FILTER (WHERE status = 'pending_validation') FROM policies "
                            "WHERE source_system = %s", (name,)).fetchone()
        assert stored == (expected, expected), name

    captured = events(db)
    assert len(captured) == sum(EXPECTED_COUNTS.values())
    assert {t for _, t, _ in captured} == {"policy.validated"}
    history = db.execute("SELECT count(*) FROM processing_history WHERE policy_id = ANY(%s)",
                         ([a for a, _, _ in captured],)).fetchone()[0]
    assert history == len(captured)


def test_records_are_normalised_field_by_field(first_pass, db):
    biz = row(db, "bizinfo", "PBLN_000000000127023")
    assert biz["title"] == "2025년 창업성장기술개발사업 디딤돌 첫걸음 과제 공고"
    assert biz["issuing_organization"] == "중소벤처기업부" and biz["executing_organization"] == "중소기업기술정보진흥원"
    assert biz["target_regions"] == ["전국"] and biz["target_group"] == "중소기업"
    assert (biz["application_start_date"], biz["application_end_date"]) == (date(2025, 3, 4), date(2025, 3, 25))
    assert biz["application_period_text"] is None and biz["application_always_open"] is False
    assert biz["raw_data"]["bsnsSumryCn"].startswith("<p>") and "<p>" not in biz["content"]
    assert len(biz["attachments"]) == 3 and biz["source_updated_at"] == datetime(2025, 2, 26, 14, 3, 11, tzinfo=KST)
    assert biz["status"] == "pending_validation" and len(biz["content_hash"]) == 64

    budget = row(db, "bizinfo", "PBLN_000000000128150")
    assert budget["application_period_text"] == "예산 소진시까지" and budget["application_start_date"] is None
    assert budget["target_regions"] == ["부산광역시", "경상남도"]

    ks = row(db, "kstartup", "171234")
    assert (ks["application_start_date"], ks["application_end_date"]) == (date(2025, 3, 4), date(2025, 3, 24))
    assert ks["target_regions"] == ["전국"] and ks["contact_phone"] == "044-410-1234"
    assert "R&D" in ks["content"] and "&amp;" not in ks["content"]

    youth = row(db, "youthcenter", "20250305005400110001")
    assert youth["target_regions"] == ["서울특별시"] and youth["target_group"] == "청년 (만 19세 ~ 34세)"
    assert (youth["application_start_date"], youth["application_end_date"]) == (date(2025, 3, 1), date(2025, 12, 31))
    always = row(db, "youthcenter", "20240611005400210077")
    assert always["application_always_open"] is True and always["target_regions"] == ["전국"]

    gov = row(db, "gov24", "B55123400012")
    assert gov["target_regions"] == ["부산광역시"] and gov["funding_type"] == "현물, 서비스"
    assert (gov["application_start_date"], gov["application_end_date"]) == (date(2025, 4, 1), date(2026, 3, 31))
    parent = row(db, "gov24", "149200000026")
    assert parent["application_always_open"] is True and parent["application_period_text"] == "상시신청"

    mss = row(db, "portal:mss-notices", "1071373")  # the configured data.go.kr API (XML, classic envelope)
    assert mss["issuing_organization"] == "중소벤처기업부" and mss["executing_organization"] == "스마트제조혁신과"
    assert (mss["application_start_date"], mss["application_end_date"]) == (date(2025, 3, 10), date(2025, 4, 4))
    assert [a["name"] for a in mss["attachments"]] == ["2025 스마트공장 지원사업 공고문.hwp", "사업계획서 양식.hwpx"]

    rss = row(db, "korea_rss", "148939123")
    assert rss["issuing_organization"] == "중소벤처기업부" and "call_from" not in rss["original_url"]
    assert rss["source_updated_at"] == datetime(2025, 3, 3, 10, 0, tzinfo=KST)

    garam = row(db, "board:garam-si", "5012")
    assert garam["title"] == "2025년 가람시 청년 창업공간 입주기업 모집 공고"
    assert garam["issuing_organization"] == "가람시" and garam["executing_organization"] == "일자리경제과"
    assert garam["target_regions"] == ["경기도"]
    assert (garam["application_start_date"], garam["application_end_date"]) == (date(2025, 3, 10), date(2025, 3, 21))
    assert [a["name"] for a in garam["attachments"]] == ["모집공고문.hwp", "입주신청서.hwpx"]
    assert garam["contact_phone"] == "031-8075-2345" and "pageIndex" not in garam["original_url"]
    assert "모집규모 10개 기업" in garam["content"]

    nuri = row(db, "board:nuri-gu", "4521")
    assert nuri["target_regions"] == ["부산광역시"] and nuri["application_always_open"] is True
    assert nuri["application_period_text"] == "상시 접수 (예산 소진 시 조기 마감)"
    # e-mail local parts are masked in PostgreSQL already (docs/privacy.md); the payload keeps the original
    assert nuri["contact_email"] == "***@nuri.go.kr" and nuri["raw_data"] and nuri["attachments"][0]["name"] == "간판개선_신청서.hwp"
    assert nuri["source_updated_at"] == datetime(2025, 3, 2, tzinfo=KST)

    # robots.txt and the board boundary are respected
    assert db.execute("SELECT count(*) FROM policies WHERE source_system = 'board:garam-si' AND source_id = '9001'").fetchone()[0] == 0


def test_malformed_record_is_dead_lettered_and_its_page_stored(first_pass, db):
    dead = db.execute("SELECT error_code, reason, raw_payload, pipeline_run_id FROM dead_letters "
                      "WHERE source_system = 'kstartup' AND source_id = '171999'").fetchall()
    assert len(dead) == 1
    code, reason, payload, run_id = dead[0]
    assert code == "DP_2001" and "title" in reason and payload["biz_pbanc_nm"] is None
    assert run_id == first_pass[1].run_id
    # the other records of the same page (page 1: the first 100 of the listing) are stored
    page_one_ids = ["171234", "171300"] + [str(172000 + i) for i in range(97)]
    stored = db.execute("SELECT count(*) FROM policies WHERE source_system = 'kstartup' AND source_id = ANY(%s)",
                        (page_one_ids,)).fetchone()[0]
    assert stored == 99


def test_second_pass_writes_nothing_and_emits_no_event(first_pass, db):
    collector, _ = first_pass  # runs before the tests below change anything upstream
    before = snapshot(db)
    result = collector.run_once()
    after = snapshot(db)
    assert all(s.error is None and s.new == 0 and s.changed == 0 for s in result.summaries)
    assert sum(s.unchanged for s in result.summaries) == sum(EXPECTED_COUNTS.values())
    assert after == before  # same row versions (xmin), same updated_at, no history, no dead letter, no event


def test_one_upstream_change_gives_one_update_and_one_event(first_pass, db, sample_server):
    collector, _ = first_pass
    collector.run_once(["bizinfo"])
    before = row(db, "bizinfo", "PBLN_000000000129001")
    events_before = len(events(db))
    sample_server.catalog.update("bizinfo", "PBLN_000000000129001",
                                 {"reqstBeginEndDe": "2025-04-01 ~ 2025-04-30", "inqireCo": "999999"})

    result = collector.run_once(["bizinfo"])

    (summary,) = result.summaries
    assert (summary.new, summary.changed, summary.unchanged) == (0, 1, 229)
    new_events = events(db)[events_before:]
    assert len(new_events) == 1
    aggregate_id, event_type, payload = new_events[0]
    assert aggregate_id == str(before["id"]) and event_type == "policy.validated"
    assert payload["source_system"] == "bizinfo" and payload["title"] == before["title"]
    after = row(db, "bizinfo", "PBLN_000000000129001")
    assert after["id"] == before["id"] and after["updated_at"] > before["updated_at"]
    assert (after["application_start_date"], after["application_end_date"]) == (date(2025, 4, 1), date(2025, 4, 30))
    assert after["application_always_open"] is False and after["status"] == "pending_validation"


def test_view_counts_alone_are_not_a_change(first_pass, db, sample_server):
    collector, _ = first_pass
    collector.run_once(["gov24"])
    sample_server.catalog.update("gov24", "149200000026", {"조회수": 999999})
    (summary,) = collector.run_once(["gov24"]).summaries
    assert (summary.changed, summary.unchanged) == (0, 150)
