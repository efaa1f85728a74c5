"""Property-based tests (hypothesis) of every source's parser and mapper: whatever arrives — any
JSON value in any field, any byte string as a body, any nesting — the result is records, coded
rejections (DP_2xxx) or a coded page/source error (an ``AegisError``); never another exception.

The example count is bounded (the ``collectors-unit`` profile in conftest.py) so the unit suite
stays fast; ``HYPOTHESIS_PROFILE=collectors-deep`` runs many more.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aegis.errors import AegisError
from aegis.models.limits import MAX_RECORD_BYTES, streamed_size
from aegis.models.policy import PolicyRecord
from aegis.settings import load_settings
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem, Rejection
from collectors.parsing.body import decode_text, parse_json, parse_xml
from collectors.parsing.dates import parse_kst_timestamp, parse_period, parse_rfc822, period_from_dates
from collectors.parsing.html import html_to_text
from collectors.parsing.urls import InvalidUrl, canonical_url
from collectors.sources.registry import CollectorState, build_sources

# -- strategies --------------------------------------------------------------------------------
scalars = (st.none() | st.booleans() | st.integers(min_value=-10**20, max_value=10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
nasty_text = st.sampled_from(["", " ", "\x00", "\ud800", "&amp;amp;", "<p>", "<" * 50, "2025-02-30 ~ 2025-01-01",
                              "javascript:alert(1)", "[x](y)", "//", "상시", "@@", "||", "\ufeff", "9" * 40])
field_values = json_values | nasty_text | st.builds(lambda depth: json.loads("[" * depth + "]" * depth),
                                                    st.integers(min_value=1, max_value=400))
prefixes = st.sampled_from([b"", b"\xef\xbb\xbf", b"\r\n  ", b"\xef\xbb\xbf \n"])
content_types = st.sampled_from([None, "application/json", "application/json;charset=UTF-8", "text/xml",
                                 "text/xml;charset=EUC-KR", "text/html; charset=ks_c_5601-1987", "text/plain;charset=nope"])
statuses = st.sampled_from([200, 200, 200, 401, 403, 404])

FIELDS = {
    "bizinfo": ["pblancId", "pblancNm", "pblancUrl", "jrsdInsttNm", "excInsttNm", "bsnsSumryCn", "trgetNm",
                "pldirSportRealmLclasCodeNm", "pldirSportRealmMlsfcCodeNm", "reqstBeginEndDe", "refrncNm", "hashtags",
                "creatPnttm", "updtPnttm", "inqireCo", "totCnt", "flpthNm", "fileNm", "printFlpthNm", "printFileNm"],
    "kstartup": ["pbanc_sn", "biz_pbanc_nm", "pbanc_ctnt", "supt_biz_clsfc", "supt_regin", "aply_trgt",
                 "aply_trgt_ctnt", "aply_excl_trgt_ctnt", "pbanc_rcpt_bgng_dt", "pbanc_rcpt_end_dt", "pbanc_ntrp_nm",
                 "biz_prch_dprt_nm", "prch_cnpl_no", "detl_pg_url", "biz_gdnc_url", "id"],
    "youthcenter": ["plcyNo", "plcyNm", "plcyExplnCn", "plcySprtCn", "lclsfNm", "mclsfNm", "sprvsnInstCdNm",
                    "operInstCdNm", "aplyPrdSeCd", "aplyYmd", "sprtTrgtMinAge", "sprtTrgtMaxAge", "zipCd",
                    "frstRegDt", "lastMdfcnDt", "inqCnt"],
    "gov24": ["서비스ID", "서비스명", "서비스목적요약", "지원유형", "지원대상", "선정기준", "지원내용", "신청방법",
              "신청기한", "상세조회URL", "소관기관명", "소관기관유형", "사용자구분", "서비스분야", "접수기관", "전화문의",
              "등록일시", "수정일시", "조회수"],
    "korea_rss": ["title", "link", "description", "pubDate", "guid", "creator"],
    "portal:mss-notices": ["itemId", "title", "dataContents", "applicationStartDate", "applicationEndDate",
                           "writerName", "writerPosition", "writerPhone", "writerEmail", "viewUrl", "fileName", "fileUrl"],
    "board:garam-si": ["url", "source_id", "list_title", "list_date", "list_department", "title", "date", "department",
                       "application_period", "contact", "body_html", "attachments"],
}
# A valid record of each source, so most examples change only a few fields of something real.
VALID = {
    "bizinfo": {"pblancId": "PBLN_1", "pblancNm": "지원사업", "bsnsSumryCn": "<p>내용</p>", "jrsdInsttNm": "중소벤처기업부",
                "flpthNm": "/a@@/b", "fileNm": "a.hwp@@b.hwp"},
    "kstartup": {"pbanc_sn": 1, "biz_pbanc_nm": "공고", "pbanc_ctnt": "내용", "pbanc_ntrp_nm": "창업진흥원"},
    "youthcenter": {"plcyNo": "1", "plcyNm": "정책", "plcyExplnCn": "설명", "sprvsnInstCdNm": "국토교통부"},
    "gov24": {"서비스ID": "1", "서비스명": "서비스", "지원내용": "<p>월 10만원</p>", "소관기관명": "보건복지부"},
    "korea_rss": {"title": "기사", "link": "https://www.korea.kr/news/a.do?newsId=1", "description": "<p>본문</p>",
                  "creator": "고용노동부", "pubDate": "Mon, 03 Mar 2025 10:00:00 +0900"},
    "portal:mss-notices": {"itemId": "1", "title": "공고", "dataContents": "<p>내용</p>", "viewUrl": "/v?id=1",
                           "fileName": ["a", "b"], "fileUrl": ["/a", "/b"]},
    "board:garam-si": {"url": "view.do?nttId=1", "source_id": "1", "title": "공지", "body_html": "<p>본문</p>",
                       "attachments": [{"name": "a.hwp", "url": "download.do?fileId=1"}]},
}
SOURCES = list(FIELDS)


@pytest.fixture(scope="module")
def sources():
    settings = load_settings(env_file=None)
    built = {s.name: s for s in build_sources(settings, CollectorState(), SOURCES)}
    yield built
    for source in built.values():
        source.close()


def items(source: str) -> st.SearchStrategy[dict]:
    keys = FIELDS[source]
    changed = st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), field_values, max_size=len(keys))
    return st.builds(lambda base, extra: {**base, **extra}, st.just(VALID[source]) | st.just({}), changed)


def assert_record_or_coded_rejection(outcome) -> None:
    if isinstance(outcome, PolicyRecord):
        assert streamed_size(outcome.model_dump(mode="json")) <= MAX_RECORD_BYTES
        json.dumps(outcome.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")  # storable text
        return
    assert isinstance(outcome, Rejection), outcome
    assert outcome.error_code.startswith("DP_2") and outcome.reason
    json.dumps(outcome.raw_payload, ensure_ascii=False).encode("utf-8")  # no lone surrogate
    assert not any("\x00" in text for text in _texts(outcome.raw_payload))  # PostgreSQL jsonb cannot hold U+0000


def _texts(value) -> list[str]:
    found, stack = [], [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            found.append(current)
        elif isinstance(current, dict):
            found.extend(map(str, current))
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found


# -- mappers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SOURCES)
def test_any_item_becomes_a_record_or_a_coded_rejection(sources, name):
    source = sources[name]

    @given(items(name), st.one_of(st.none(), st.text(max_size=20)))
    def check(payload, source_id):
        outcome = source.map_one(RawItem(source_id=source_id, payload=payload))
        assert_record_or_coded_rejection(outcome)
        if isinstance(outcome, Rejection):  # the rejection is what map_item itself says, not the safety net
            assert "a collector bug" not in outcome.reason

    check()


@pytest.mark.parametrize("name", SOURCES)
def test_a_page_of_any_items_loses_only_its_bad_items(sources, name):
    source = sources[name]

    @given(st.lists(items(name), max_size=6))
    def check(payloads):
        page = FetchedPage(number=1, items=[RawItem(source_id=str(i), payload=p) for i, p in enumerate(payloads)])
        mapped = source.map_page(page)
        assert len(mapped.records) + len(mapped.rejections) == len(payloads)
        for outcome in [*mapped.records, *mapped.rejections]:
            assert_record_or_coded_rejection(outcome)

    check()


# -- parsers -----------------------------------------------------------------------------------
ENVELOPES = {
    "bizinfo": lambda v: {"jsonArray": v},
    "kstartup": lambda v: {"currentCount": 1, "data": v, "matchCount": v if isinstance(v, int) else 3},
    "youthcenter": lambda v: {"resultCode": 200, "result": {"pagging": {"totCount": v}, "youthPolicyList": v}},
    "gov24": lambda v: {"response": {"header": {"resultCode": v}, "body": {"items": v, "totalCount": v}}},
    "portal:mss-notices": lambda v: {"response": {"header": {"resultCode": "00"}, "body": {"items": {"item": v}}}},
}


def interpret(source, status: int, content_type: str | None, body: bytes):
    headers = {"content-type": content_type} if content_type else {}
    try:
        result = source._interpret(HttpResponse(status, headers, body, "http://sample.test/p"))
    except AegisError as exc:
        assert exc.code.value.startswith("DP_1"), exc
        return None
    return result


@pytest.mark.parametrize("name", SOURCES[:-1])  # boards parse HTML with Scrapy: below
def test_any_bytes_as_a_body_give_items_or_a_coded_error(sources, name):
    source = sources[name]

    @given(statuses, content_types, prefixes, st.binary(max_size=300))
    def check(status, content_type, prefix, body):
        interpret(source, status, content_type, prefix + body)

    check()


@pytest.mark.parametrize("name", list(ENVELOPES))
def test_any_json_in_the_envelope_gives_items_or_a_coded_error(sources, name):
    source = sources[name]

    @given(field_values | st.lists(items(name), max_size=3), prefixes, content_types,
           st.sampled_from(["utf-8", "cp949"]))
    def check(value, prefix, content_type, charset):
        body = json.dumps(ENVELOPES[name](value), ensure_ascii=False).encode(charset, errors="ignore")
        result = interpret(source, 200, content_type, prefix + body)
        if result is not None:  # whatever was found must map without surprises
            found = getattr(result, "items", result)
            if isinstance(found, tuple):
                found = found[0]
            for entry in found:
                raw = entry if isinstance(entry, RawItem) else RawItem(source_id=None, payload=entry) \
                    if isinstance(entry, dict) else None
                if raw is not None:
                    assert_record_or_coded_rejection(source.map_one(raw))

    check()


xml_names = st.sampled_from(["response", "header", "resultCode", "body", "items", "item", "title", "itemId",
                             "OpenAPI_ServiceResponse", "cmmMsgHeader", "returnReasonCode", "rss", "channel",
                             "link", "description", "pubDate"])
xml_trees = st.recursive(st.text(alphabet="가나 abc<&>\"'0123", max_size=10),
                         lambda inner: st.lists(st.tuples(xml_names, inner), max_size=4), max_leaves=15)


def xml_of(tree) -> str:
    from xml.sax.saxutils import escape

    if isinstance(tree, str):
        return escape(tree)
    return "".join(f"<{name}>{xml_of(child)}</{name}>" for name, child in tree)


@pytest.mark.parametrize("name", ["kstartup", "gov24", "portal:mss-notices", "korea_rss"])
def test_any_xml_gives_items_or_a_coded_error(sources, name):
    source = sources[name]

    @given(xml_names, xml_trees, prefixes, st.sampled_from(["UTF-8", "EUC-KR", "ks_c_5601-1987", "x-unknown"]),
           st.integers(min_value=0, max_value=600))
    def check(root, tree, prefix, declared, depth):
        text = f'<?xml version="1.0" encoding="{declared}"?><{root}>{"<a>" * depth}{xml_of(tree)}{"</a>" * depth}</{root}>'
        codec = "cp949" if declared != "UTF-8" else "utf-8"
        interpret(source, 200, "text/xml", prefix + text.encode(codec, errors="ignore"))

    check()


def test_board_pages_of_any_html_give_items(sources):
    from scrapy.http import HtmlResponse

    from collectors.spider.board_spider import BoardSpider

    board = sources["board:garam-si"].board
    spider = BoardSpider(board_json=board.model_dump_json())
    spider.crawler = SimpleNamespace(stats=SimpleNamespace(inc_value=lambda *a, **k: None,
                                                           set_value=lambda *a, **k: None))

    @given(st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-8")),
           st.sampled_from([b"", b"<meta charset='euc-kr'>", b"\xef\xbb\xbf"]), st.integers(0, 400))
    def check(body, head, depth):
        html = head + b"<html><body>" + b"<div>" * depth + body + b"</div>" * depth + b"</body></html>"
        list_response = HtmlResponse(url=board.start_url, body=html)
        list(spider.parse_list(list_response, page=1))
        detail = HtmlResponse(url=board.start_url.replace("list.do", "view.do") + "&nttId=7", body=html)
        for item in spider.parse_detail(detail, listing={"list_title": None, "list_date": None,
                                                          "list_department": None}):
            outcome = sources["board:garam-si"].map_one(RawItem(source_id=item.get("source_id"), payload=item))
            assert_record_or_coded_rejection(outcome)

    check()


# -- the parsing helpers every source uses -------------------------------------------------------
@given(st.binary(max_size=200), content_types)
def test_any_bytes_decode_to_text(body, content_type):
    assert isinstance(decode_text(body, content_type), str)


@given(prefixes, st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_json_bodies_parse_or_fail_with_a_code(prefix, body):
    try:
        parse_json(prefix + body, "test")
    except AegisError as exc:
        assert exc.code.value == "DP_1004"


@given(st.integers(min_value=1, max_value=200_000), st.sampled_from(["[", "{\"a\":"]))
def test_deep_json_is_a_coded_error_not_a_recursion_error(depth, opener):
    closer = "]" if opener == "[" else "}"
    body = (opener * depth + "1" + closer * depth).encode()
    try:
        parse_json(body, "test")
    except AegisError as exc:
        assert exc.code.value == "DP_1004"


@given(st.binary(max_size=200))
def test_xml_bodies_parse_or_fail_with_a_code(body):
    try:
        parse_xml(b"<r>" + body + b"</r>", "test")
    except AegisError as exc:
        assert exc.code.value == "DP_1004"


@given(st.text(max_size=80) | nasty_text, st.sampled_from([None, "https://www.bizinfo.go.kr", "http://127.0.0.1:1/a/"]))
def test_any_text_is_a_canonical_url_or_a_coded_rejection(value, base):
    try:
        url = canonical_url(value, base)
    except InvalidUrl as exc:
        assert exc.code.value == "DP_2001"
        return
    if url is not None:
        assert url.startswith(("https://", "http://")) and " " not in url and "#" not in url


@given(st.text(max_size=60) | nasty_text)
def test_date_parsers_never_raise(value):
    parse_rfc822(value)
    parse_kst_timestamp(value)
    parse_period(value)
    period_from_dates(value, value)


@given(st.text(max_size=200) | nasty_text, st.integers(min_value=0, max_value=3000))
def test_html_becomes_text_or_a_coded_rejection(markup, depth):
    try:
        assert isinstance(html_to_text("<div>" * depth + markup + "</div>" * depth), str)
    except AegisError as exc:
        assert exc.code.value == "DP_2001"


url_chars = st.text(alphabet="abcXYZ019eE-._~!$&'()*+,;=:@/?%가 #", max_size=30)
hosts = st.sampled_from(["www.bizinfo.go.kr", "x.kr", "a-b.c.d", "WWW.X.KR", "127.0.0.1", "x.kr:8080", "x.kr:443"])


@given(st.sampled_from(["http", "https", "HTTPS"]), hosts, url_chars)
@example("http", "www.bizinfo.go.kr", ".")  # a dot segment, which the URL library removes
@example("https", "x.kr", "a/%2E%2e/b?q=1")
@example("https", "x.kr", ".well-known/x")
def test_the_fast_path_for_canonical_urls_agrees_with_the_url_library(scheme, host, rest):
    """canonical_url skips the URL library for links that are canonical already; both must agree."""
    from collectors.parsing.urls import _canonical

    for value, base in ((f"{scheme}://{host}/{rest}", None), ("/" + rest, f"https://{host}")):
        try:
            slow = _canonical(value.strip(), base, "url")
        except InvalidUrl:
            slow = InvalidUrl
        try:
            fast = canonical_url(value, base)
        except InvalidUrl:
            fast = InvalidUrl
        if "&" not in value and " " not in value.strip() and "#" not in value:  # no entity or markdown rules
            assert fast == slow, value
