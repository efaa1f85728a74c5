"""Dates, periods, HTML to text, regions and contacts in every shape formats.md lists."""

from datetime import date, datetime

import pytest

from collectors.parsing.contacts import find_email, find_phone
from collectors.parsing.dates import KST, parse_date, parse_kst_timestamp, parse_period, parse_rfc822, period_from_dates
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.regions import ALL_SIDO, regions_from_district_codes, regions_from_text


@pytest.mark.parametrize("text, start, end", [
    ("2025-03-04 ~ 2025-03-25", date(2025, 3, 4), date(2025, 3, 25)),       # Bizinfo
    ("20240105 ~ 20240228", date(2024, 1, 5), date(2024, 2, 28)),           # Bizinfo (older), 온통청년
    ("2025.04.01~2026.03.31", date(2025, 4, 1), date(2026, 3, 31)),         # 보조금24
    ("2025. 3. 10.(월) ~ 2025. 3. 21.(금) 18:00", date(2025, 3, 10), date(2025, 3, 21)),  # boards
    ("2025년 3월 4일 ~ 2025년 4월 1일", date(2025, 3, 4), date(2025, 4, 1)),
])
def test_two_dates_make_a_clean_period(text, start, end):
    period = parse_period(text)
    assert (period.start, period.end, period.text, period.always_open) == (start, end, None, False)


@pytest.mark.parametrize("text, always_open", [
    ("예산 소진시까지", False), ("사업별 상이", False), ("상시 접수", True), ("상시신청", True), ("수시 접수", True),
])
def test_free_text_is_kept_never_guessed(text, always_open):
    period = parse_period(text)
    assert period.start is None and period.end is None
    assert period.text == text
    assert period.always_open is always_open


def test_half_open_and_impossible_periods_keep_their_words():
    half = parse_period("2025-03-01 ~ 예산 소진시까지")
    assert (half.start, half.end, half.text) == (date(2025, 3, 1), None, "2025-03-01 ~ 예산 소진시까지")
    impossible = parse_period("2025-02-30 ~ 2025-03-10")
    assert impossible.start is None and impossible.end == date(2025, 3, 10) and impossible.text
    reversed_range = parse_period("2025-05-01 ~ 2025-03-01")
    assert reversed_range.start is None and reversed_range.end is None and reversed_range.text == "2025-05-01 ~ 2025-03-01"
    assert parse_period(None).text is None and parse_period("  ").start is None


def test_separate_date_fields():
    assert period_from_dates("20250304", "20250324").model_dump() == {
        "start": date(2025, 3, 4), "end": date(2025, 3, 24), "text": None, "always_open": False}
    open_end = period_from_dates("20250310", None)
    assert open_end.start == date(2025, 3, 10) and open_end.end is None and open_end.text is None
    broken = period_from_dates("2025133", "20250331")
    assert broken.start is None and broken.end == date(2025, 3, 31) and broken.text == "2025133 ~ 20250331"


def test_single_dates_and_timestamps():
    assert parse_date("2025-03-02 10:00:00") == date(2025, 3, 2)
    assert parse_date("2025-03-01abc") is None
    assert parse_kst_timestamp("2025-02-26 14:03:11") == datetime(2025, 2, 26, 14, 3, 11, tzinfo=KST)
    assert parse_kst_timestamp("20250210153012") == datetime(2025, 2, 10, 15, 30, 12, tzinfo=KST)
    assert parse_kst_timestamp("2025.03.02") == datetime(2025, 3, 2, tzinfo=KST)
    assert parse_kst_timestamp("어제") is None
    assert parse_rfc822("Mon, 03 Mar 2025 10:00:00 +0900") == datetime(2025, 3, 3, 10, tzinfo=KST)
    assert parse_rfc822("not a date") is None


def test_html_to_text_keeps_blocks_and_drops_scripts():
    text = html_to_text("<p>□ 지원내용</p><ul><li>최대 1.2억원 (R&amp;D)</li><li>80%&nbsp;이내</li></ul>"
                        "<script>track()</script><br>문의: 1357")
    assert text == "□ 지원내용\n최대 1.2억원 (R&D)\n80% 이내\n문의: 1357"
    assert html_to_text("○ 대상\r\n - 청년 &amp; 가구\r\n\r\n○ 내용") == "○ 대상\n- 청년 & 가구\n○ 내용"
    assert html_to_text(None) == ""
    assert unescape("기술개발(R&amp;D)  ") == "기술개발(R&D)" and unescape("  ") is None


def test_regions():
    assert regions_from_text("창업,서울,부산") == ["서울특별시", "부산광역시"]
    hashtags = "창업,서울,부산,대구,인천,광주,대전,울산,세종,경기,강원,충북,충남,전북,전남,경북,경남,제주"
    assert regions_from_text(hashtags) == ["전국"]             # Bizinfo lists all 17 for nationwide
    assert regions_from_text(",".join(ALL_SIDO)) == ["전국"]
    assert regions_from_text("전국") == ["전국"]
    assert regions_from_text("서울특별시 강남구") == ["서울특별시"]
    assert regions_from_text("경기도 광주시") == ["경기도"]           # not 광주광역시
    assert regions_from_text("서울 경기 인천") == ["서울특별시", "경기도", "인천광역시"]
    assert regions_from_text("경기||충북") == ["경기도", "충청북도"]
    assert regions_from_text("강원도") == ["강원특별자치도"] and regions_from_text("전라북도") == ["전북특별자치도"]
    assert regions_from_district_codes("11110,11140,41111") == ["서울특별시", "경기도"]
    assert regions_from_district_codes("51110,52111") == ["강원특별자치도", "전북특별자치도"]
    assert regions_from_text(None) == [] and regions_from_text("창업,금융") == []


def test_contacts():
    assert find_phone("고객지원센터 1357, help@tipa.or.kr") is None
    assert find_phone("부산신용보증재단 051-860-6600") == "051-860-6600"
    assert find_phone("수출바우처 고객센터 1600-7119") == "1600-7119"
    assert find_email("고객지원센터 1357, help@tipa.or.kr") == "help@tipa.or.kr"


def test_build_record_removes_nul_and_reports_every_problem_as_dp_2001():
    from aegis.errors import DataError
    from collectors.sources.base import build_record

    record = build_record("bizinfo", "X1", title="제목\x00", content="본문", issuing_organization="기관",
                          raw_data={"pblancNm": "제목\x00", "nested": [{"v": "\x00a"}]})
    assert record.title == "제목" and record.raw_data == {"pblancNm": "제목", "nested": [{"v": "a"}]}
    with pytest.raises(DataError) as raised:
        build_record("bizinfo", "X2", title="", content="", issuing_organization="기관")
    assert raised.value.code.value == "DP_2001" and "title" in raised.value.message and "content" in raised.value.message
    with pytest.raises(DataError, match="no source id"):
        build_record("bizinfo", None, title="t", content="c", issuing_organization="o")
