"""Each source against the sample server: paging to the end, and golden records mapped field by field."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from aegis.errors import ErrorCode, TerminalError, TransientError
from collectors.http.quota import QuotaExceededError
from collectors.parsing.dates import KST
from collectors.samples.faults import Fault, FaultKind
from collectors.sources.registry import CollectorState, build_sources


def source(settings, name):
    (built,) = build_sources(settings, CollectorState(), [name])
    return built


def collect(settings, name):
    src = source(settings, name)
    try:
        pages = list(src.pages())
        mapped = [src.map_page(p) for p in pages]
    finally:
        src.close()
    records = {r.source_id: r for m in mapped for r in m.records}
    rejections = [r for m in mapped for r in m.rejections]
    return pages, records, rejections


def test_bizinfo_pages_to_the_end_and_maps_fields(sample_settings, sample_server):
    pages, records, rejections = collect(sample_settings, "bizinfo")
    assert [p.number for p in pages] == [1, 2, 3] and len(records) == 230 and not rejections
    record = records["PBLN_000000000127023"]
    assert record.title == "2025년 창업성장기술개발사업 디딤돌 첫걸음 과제 공고"
    assert record.content.startswith("□ 사업목적\n- 창업기업의 기술개발을 지원하여")
    assert "trackView" not in record.content and "최대 1.2억원, 최대 12개월 (R&D 과제)" in record.content
    assert (record.issuing_organization, record.executing_organization) == ("중소벤처기업부", "중소기업기술정보진흥원")
    assert record.target_regions == ["전국"] and record.target_group == "중소기업"
    assert record.support_field == "기술 > 기술개발(R&D)"
    assert (record.application_start_date, record.application_end_date) == (date(2025, 3, 4), date(2025, 3, 25))
    assert record.application_period_text is None and record.application_always_open is False
    assert record.contact_email == "help@tipa.or.kr"
    assert record.source_updated_at == datetime(2025, 2, 26, 14, 3, 11, tzinfo=KST)
    assert [a["name"] for a in record.attachments] == ["2025년 디딤돌 첫걸음 공고문.hwp", "신청서 양식.hwpx", "공고문_본문출력.pdf"]
    assert record.attachments[0]["url"].startswith("https://www.bizinfo.go.kr/cmm/fms/getImageFile.do?atchFileId=")
    assert "inqireCo" not in record.raw_data and "totCnt" not in record.raw_data
    assert record.raw_data["bsnsSumryCn"].startswith("<p>□ 사업목적</p>")

    budget = records["PBLN_000000000128150"]
    assert budget.target_regions == ["부산광역시", "경상남도"] and budget.application_period_text == "예산 소진시까지"
    assert budget.application_start_date is None and not budget.application_always_open
    assert budget.contact_phone == "051-860-6600"
    old = records["PBLN_000000000098765"]
    assert (old.application_start_date, old.application_end_date) == (date(2024, 1, 5), date(2024, 2, 28))
    assert records["PBLN_000000000129001"].application_always_open is True
    assert records["PBLN_000000000129077"].application_period_text == "사업별 상이"


def test_kstartup_maps_fields_and_rejects_the_record_without_a_title(sample_settings):
    pages, records, rejections = collect(sample_settings, "kstartup")
    assert len(pages) == 2 and len(records) == 179
    record = records["171234"]
    assert record.title == "2025년 예비창업패키지 예비창업자 모집 공고"
    assert "기술개발(R&D) 연계 가능" in record.content and "[신청대상] 공고일 기준" in record.content
    assert record.issuing_organization == "창업진흥원" and record.executing_organization == "예비창업팀"
    assert record.target_regions == ["전국"] and record.target_group == "일반인, 대학생"
    assert (record.application_start_date, record.application_end_date) == (date(2025, 3, 4), date(2025, 3, 24))
    assert record.contact_phone == "044-410-1234" and record.support_field == "사업화"
    assert record.original_url.endswith("pbancSn=171234") and "id" not in record.raw_data
    seoul = records["171300"]
    assert seoul.title == "서울 창업허브 입주기업 모집 (공간&보육)" and seoul.target_regions == ["서울특별시"]
    assert seoul.application_end_date is None and seoul.original_url == "https://seoulstartuphub.com/notice"
    (rejected,) = rejections
    assert rejected.source_id == "171999" and rejected.error_code == "DP_2001" and "title" in rejected.reason
    assert rejected.raw_payload["pbanc_ctnt"].startswith("제목이 누락된 공고")


def test_youthcenter_maps_fields(sample_settings):
    _, records, _ = collect(sample_settings, "youthcenter")
    assert len(records) == 120
    rent = records["20250305005400110001"]
    assert rent.title == "청년월세 한시 특별지원" and rent.issuing_organization == "국토교통부"
    assert rent.content == "경제적 어려움을 겪는 청년의 주거비 부담을 덜기 위해 월세를 지원합니다.\n[지원내용] 월 최대 20만원, 최장 12개월 실비 지원"
    assert rent.target_regions == ["서울특별시"] and rent.target_group == "청년 (만 19세 ~ 34세)"
    assert (rent.application_start_date, rent.application_end_date) == (date(2025, 3, 1), date(2025, 12, 31))
    assert rent.original_url == "https://www.youthcenter.go.kr/youthPolicy/ythPlcyTotalSearch/ythPlcyDetail/20250305005400110001"
    assert rent.support_field == "주거 > 주거비 지원"
    assert rent.source_updated_at == datetime(2025, 3, 7, 18, 30, 45, tzinfo=KST)
    voucher = records["20240611005400210077"]
    assert voucher.application_always_open is True and voucher.application_period_text == "상시"
    assert voucher.target_regions == ["전국"]


def test_gov24_maps_fields(sample_settings):
    _, records, _ = collect(sample_settings, "gov24")
    assert len(records) == 150
    parent = records["149200000026"]
    assert parent.title == "부모급여 지원" and parent.funding_type == "현금" and parent.target_group == "개인, 가구"
    assert parent.target_regions == ["전국"] and parent.application_always_open and parent.application_period_text == "상시신청"
    assert "[지원내용] ○ 만 0세 : 월 100만원\n○ 만 1세 : 월 50만원" in parent.content
    assert parent.contact_phone == "보건복지상담센터/129" and "조회수" not in parent.raw_data
    assert parent.source_updated_at == datetime(2025, 2, 10, 15, 30, 12, tzinfo=KST)
    suit = records["B55123400012"]
    assert suit.target_regions == ["부산광역시"] and suit.funding_type == "현물, 서비스"
    assert (suit.application_start_date, suit.application_end_date) == (date(2025, 4, 1), date(2026, 3, 31))


def test_korea_rss_maps_articles_once(sample_settings):
    pages, records, _ = collect(sample_settings, "korea_rss")
    assert len(pages) == 2 and len(records) == 24  # the article in both feeds is collected once
    article = records["148939123"]
    assert article.title == "정부, 소상공인 전기요금 특별지원 신청 접수 시작"
    assert article.issuing_organization == "중소벤처기업부"
    assert article.original_url == "https://www.korea.kr/news/policyNewsView.do?newsId=148939123"
    assert article.content.startswith("중소벤처기업부는 3일부터") and "자료제공" not in article.content
    assert "기사 원문 보기" not in article.content
    assert article.source_updated_at == datetime(2025, 3, 3, 10, 0, tzinfo=KST)


@pytest.mark.parametrize("name, fault, error, code, text", [
    ("bizinfo", Fault(source="bizinfo", kind=FaultKind.AUTH), TerminalError, ErrorCode.DATA_SOURCE_UNAVAILABLE, "존재하지 않는 인증키"),
    ("kstartup", Fault(source="kstartup", kind=FaultKind.AUTH), TerminalError, ErrorCode.DATA_SOURCE_UNAVAILABLE, "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"),
    ("kstartup", Fault(source="kstartup", kind=FaultKind.QUOTA), QuotaExceededError, ErrorCode.API_RATE_LIMIT_EXCEEDED, "22"),
    ("gov24", Fault(source="gov24", kind=FaultKind.AUTH), TerminalError, ErrorCode.DATA_SOURCE_UNAVAILABLE, "HTTP 401"),
    ("gov24", Fault(source="gov24", kind=FaultKind.GATEWAY, code="01", times=-1), TransientError, ErrorCode.DATA_SOURCE_UNAVAILABLE, "APPLICATION_ERROR"),
    ("youthcenter", Fault(source="youthcenter", kind=FaultKind.CUT_JSON, times=-1), TransientError, ErrorCode.INVALID_DATA_FORMAT, "not valid JSON"),
    ("korea_rss", Fault(source="korea_rss", kind=FaultKind.ENTITY_BOMB, times=-1), TransientError, ErrorCode.INVALID_DATA_FORMAT, "unsafe"),
])
def test_error_shapes_become_clear_errors(sample_settings, sample_server, name, fault, error, code, text):
    sample_server.faults.add(fault)
    src = source(sample_settings, name)
    try:
        with pytest.raises(error) as raised:
            list(src.pages())
    finally:
        src.close()
    assert raised.value.code is code and text in raised.value.message


def test_a_wrong_key_gets_the_sources_own_answer(sample_settings):
    bizinfo = sample_settings.source_apis["bizinfo"].model_copy(update={
        "base_url": sample_settings.sources.samples_url, "api_key": None})
    settings = sample_settings.model_copy(update={"source_apis": {**sample_settings.source_apis, "bizinfo": bizinfo}})
    src = source(settings, "bizinfo")
    try:
        with pytest.raises(TerminalError, match="인증키를 입력해주세요"):
            list(src.pages())
    finally:
        src.close()


def test_gateway_no_data_is_an_empty_listing(sample_settings, sample_server):
    sample_server.faults.add(Fault(source="kstartup", kind=FaultKind.GATEWAY, code="03"))
    src = source(sample_settings, "kstartup")
    try:
        assert list(src.pages()) == []
    finally:
        src.close()
