"""The classes of real-response trouble, by example: envelopes, gateway codes in every encoding,
charsets, URLs, RSS dates, multi-valued fields, per-item isolation and oversized records."""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timezone

import pytest

from aegis.errors import AegisError, DataError, ErrorCode, TerminalError, TransientError
from aegis.models.limits import MAX_CONTENT_CHARS, MAX_RAW_DATA_BYTES, MAX_RECORD_BYTES, json_text_size, streamed_size
from aegis.settings import load_settings
from collectors.http.client import HttpResponse
from collectors.http.quota import QuotaExceededError
from collectors.models import FetchedPage, RawItem
from collectors.parsing.body import decode_text, parse_xml, xml_to_data
from collectors.parsing.dates import parse_rfc822
from collectors.parsing.urls import InvalidUrl, canonical_url
from collectors.sources.base import build_record
from collectors.sources.datagokr import read_listing
from collectors.sources.envelope import has_any, items_in
from collectors.sources.limits import TRUNCATION_KEY
from collectors.sources.registry import CollectorState, build_sources

ITEM = {"pblancId": "PBLN_1", "pblancNm": "지원사업"}
looks_like = has_any("pblancId")


@pytest.mark.parametrize("value, expected", [
    ([ITEM, ITEM], [ITEM, ITEM]),
    (ITEM, [ITEM]),                                                   # a single object
    ({"item": [ITEM, ITEM]}, [ITEM, ITEM]),
    ({"item": ITEM}, [ITEM]),
    ({"title": "기업마당", "link": "https://www.bizinfo.go.kr", "item": [ITEM]}, [ITEM]),  # Bizinfo's documented form
    ("", []), (None, []), ([], []), ({}, []), ({"item": ""}, []), ({"item": None}, []), ("  ", []),
    ([ITEM, 42, "x"], [ITEM, 42, "x"]),                               # kept: each entry rejected on its own
])
def test_every_envelope_of_a_list(value, expected):
    assert items_in(value, "test", looks_like_item=looks_like) == expected


@pytest.mark.parametrize("value", [{"title": "기업마당", "items": [ITEM]}, 42, "text", {"unknown": 1}, True])
def test_a_non_empty_value_without_items_is_an_error_not_zero_records(value):
    with pytest.raises(TerminalError) as raised:
        items_in(value, "test", looks_like_item=looks_like)
    assert raised.value.code is ErrorCode.INVALID_DATA_FORMAT and "no items found" in raised.value.message


# -- gateway codes in every encoding ---------------------------------------------------------------
OPENAPI_XML = ("<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg><returnAuthMsg>{name}"
               "</returnAuthMsg><returnReasonCode>{code}</returnReasonCode></cmmMsgHeader></OpenAPI_ServiceResponse>")


def gateway_bodies(code: str, name: str) -> dict[str, bytes]:
    classic = {"response": {"header": {"resultCode": code, "resultMsg": name}, "body": None}}
    return {
        "openapi-xml": OPENAPI_XML.format(code=code, name=name).encode(),
        "openapi-xml+prolog": ('<?xml version="1.0" encoding="UTF-8"?>' + OPENAPI_XML.format(code=code, name=name)).encode(),
        "openapi-json": json.dumps({"OpenAPI_ServiceResponse": {"cmmMsgHeader": {
            "returnAuthMsg": name, "returnReasonCode": code}}}).encode(),
        "classic-json": json.dumps(classic).encode(),
        "classic-xml": (f"<response><header><resultCode>{code}</resultCode><resultMsg>{name}</resultMsg>"
                        "</header></response>").encode(),
        "classic-xml-euc-kr": (f'<?xml version="1.0" encoding="EUC-KR"?><response><header><resultCode>{code}'
                               f"</resultCode><resultMsg>{name} 한도 초과</resultMsg></header></response>").encode("cp949"),
    }


FRAMINGS = {"plain": b"", "bom": codecs.BOM_UTF8, "whitespace": b"\r\n \t\n", "bom+whitespace": codecs.BOM_UTF8 + b"\n "}


def listing(body: bytes, status: int = 200, content_type: str = "application/json"):
    response = HttpResponse(status, {"content-type": content_type}, body, "https://apis.data.go.kr/x")
    return read_listing(response, "kstartup page 1", source="kstartup", key_setting="SOURCE_KSTARTUP_API_KEY",
                        looks_like_item=has_any("pbanc_sn"))


@pytest.mark.parametrize("form", list(gateway_bodies("22", "x")))
@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_gateway_codes_in_every_encoding_and_framing(form, framing):
    prefix = FRAMINGS[framing]
    with pytest.raises(QuotaExceededError) as quota:
        listing(prefix + gateway_bodies("22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR")[form])
    assert quota.value.code is ErrorCode.API_RATE_LIMIT_EXCEEDED and "22" in quota.value.message
    with pytest.raises(TerminalError) as key:
        listing(prefix + gateway_bodies("30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR")[form])
    assert key.value.code is ErrorCode.DATA_SOURCE_UNAVAILABLE and not isinstance(key.value, QuotaExceededError)
    with pytest.raises(TransientError):
        listing(prefix + gateway_bodies("01", "APPLICATION_ERROR")[form])
    assert listing(prefix + gateway_bodies("03", "NODATA_ERROR")[form]).items == []


def test_classic_envelope_and_odcloud_pages_in_json_and_xml():
    rows = [{"pbanc_sn": "1", "biz_pbanc_nm": "a"}, {"pbanc_sn": "2", "biz_pbanc_nm": "b"}]
    classic = {"response": {"header": {"resultCode": "00", "resultMsg": "NORMAL SERVICE."},
                            "body": {"items": {"item": rows}, "numOfRows": 10, "pageNo": 1, "totalCount": 2}}}
    assert listing(json.dumps(classic).encode()).items == rows
    assert listing(json.dumps(classic).encode()).total == 2
    xml = ("<response><header><resultCode>00</resultCode></header><body><items>"
           + "".join(f"<item><pbanc_sn>{r['pbanc_sn']}</pbanc_sn><biz_pbanc_nm>{r['biz_pbanc_nm']}</biz_pbanc_nm></item>"
                     for r in rows) + "</items><totalCount>2</totalCount></body></response>")
    assert listing(xml.encode(), content_type="text/xml").items == rows
    one = xml.replace("<item><pbanc_sn>2</pbanc_sn><biz_pbanc_nm>b</biz_pbanc_nm></item>", "")
    assert listing(one.encode()).items == rows[:1]                     # one <item>: a single object
    empty = "<response><header><resultCode>00</resultCode></header><body><items/><totalCount>0</totalCount></body></response>"
    assert listing(empty.encode()).items == []
    odcloud = {"currentCount": 2, "data": rows, "matchCount": 2, "page": 1, "perPage": 10, "totalCount": 30000}
    assert listing(json.dumps(odcloud).encode()).total == 2


def test_odcloud_bad_key_and_unknown_status():
    with pytest.raises(TerminalError, match="code -4"):
        listing(json.dumps({"code": -4, "msg": "등록되지 않은 인증키 입니다."}).encode(), status=401)
    with pytest.raises(TerminalError, match="HTTP 404"):
        listing(b"<html><body>Not Found</body></html>", status=404, content_type="text/html")


def test_repeated_xml_elements_become_lists_and_single_ones_stay_values():
    root = parse_xml("<item><fileName>a.hwp</fileName><fileName>b.hwp</fileName><title>t</title><empty/></item>", "t")
    assert xml_to_data(root) == {"fileName": ["a.hwp", "b.hwp"], "title": "t", "empty": None}


# -- charsets ------------------------------------------------------------------------------------------
TEXT = "청년 창업 지원사업 공고 (R&D)"


@pytest.mark.parametrize("body, content_type", [
    (TEXT.encode("utf-8"), None),
    (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "text/plain;charset=EUC-KR"),   # a BOM wins over the header
    (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), None),
    (TEXT.encode("cp949"), "application/json;charset=EUC-KR"),
    (TEXT.encode("cp949"), "text/html; charset=ks_c_5601-1987"),
    (TEXT.encode("cp949"), None),                                          # undeclared, not UTF-8: CP949
    (TEXT.encode("cp949"), "application/json;charset=UTF-8"),              # a wrong declaration
])
def test_text_in_every_declared_charset(body, content_type):
    assert decode_text(body, content_type) == TEXT


def test_charset_declared_in_the_xml_prolog_and_html_meta():
    escaped = TEXT.replace("&", "&amp;")
    xml = f'<?xml version="1.0" encoding="EUC-KR"?><r><t>{escaped}</t></r>'.encode("cp949")
    assert xml_to_data(parse_xml(xml, "t")) == {"t": TEXT}
    html = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"></head>{TEXT}'.encode("cp949")
    assert TEXT in decode_text(html, "text/html")
    assert TEXT in decode_text(f'<meta charset="EUC-KR"><p>{TEXT}</p>'.encode("cp949"), None)


# -- URLs ----------------------------------------------------------------------------------------------
SITE = "https://www.bizinfo.go.kr"


@pytest.mark.parametrize("value, expected", [
    ("https://www.bizinfo.go.kr/a.do?b=1&amp;c=2", "https://www.bizinfo.go.kr/a.do?b=1&c=2"),
    ("https://www.bizinfo.go.kr/a.do?b=1&amp;amp;c=2", "https://www.bizinfo.go.kr/a.do?b=1&c=2"),
    ("[상세보기](https://www.k-startup.go.kr/web/a.do?id=1)", "https://www.k-startup.go.kr/web/a.do?id=1"),
    ("www.k-startup.go.kr/web/a.do?id=1", "https://www.k-startup.go.kr/web/a.do?id=1"),
    ("//www.gov.kr/portal/x", "https://www.gov.kr/portal/x"),
    ("/cmm/fms/getImageFile.do?atchFileId=F1&fileSn=0", "https://www.bizinfo.go.kr/cmm/fms/getImageFile.do?atchFileId=F1&fileSn=0"),
    ("view.do?nttId=5", "https://www.bizinfo.go.kr/view.do?nttId=5"),
    ("HTTPS://WWW.Bizinfo.GO.KR:443/a#top", "https://www.bizinfo.go.kr/a"),
    ("http://127.0.0.1:27800/boards/x", "http://127.0.0.1:27800/boards/x"),
    ("<a href=\"/x.do?id=1\">공고 보기</a>", "https://www.bizinfo.go.kr/x.do?id=1"),
    ("https://x.go.kr/첨부 파일.hwp", "https://x.go.kr/%EC%B2%A8%EB%B6%80%20%ED%8C%8C%EC%9D%BC.hwp"),
    ("홈페이지: https://www.smtech.go.kr 참고", "https://www.smtech.go.kr/"),
    ("", None), ("   ", None),
])
def test_urls_become_canonical_absolute_urls(value, expected):
    assert canonical_url(value, SITE) == expected


@pytest.mark.parametrize("value", ["javascript:void(0)", "mailto:a@b.kr", "#", "상세페이지 참조", "http://",
                                   "https://exa mple.com", "ftp://x.go.kr/a", "x" * 3000])
def test_what_is_not_a_url_is_rejected_with_a_code(value):
    with pytest.raises(InvalidUrl) as raised:
        canonical_url(value, SITE, field="pblancUrl")
    assert raised.value.code is ErrorCode.VALIDATION_FAILED and "pblancUrl" in raised.value.message


# -- RSS dates -----------------------------------------------------------------------------------------
INSTANT = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", ["Mon, 03 Mar 2025 10:00:00 +0900", "Mon, 03 Mar 2025 10:00:00 KST",
                                   "Mon, 3 Mar 2025 01:00:00 GMT", "2025-03-03T10:00:00+09:00",
                                   "2025-03-03T01:00:00Z", "2025-03-03 10:00:00", "Mon, 03 Mar 2025 10:00:00"])
def test_rss_dates_in_every_form_are_the_right_instant(value):
    parsed = parse_rfc822(value)
    assert parsed == INSTANT and parsed.tzinfo is not None


def test_rss_dates_that_are_not_dates_are_none():
    assert parse_rfc822("어제") is None and parse_rfc822("Mon, 03 Mar 2025 10:00:00 +9900") is None


# -- per source: multi-valued fields and per-item isolation ------------------------------------------
@pytest.fixture(scope="module")
def built():
    sources = {s.name: s for s in build_sources(load_settings(env_file=None), CollectorState(),
                                                ["bizinfo", "kstartup", "portal:mss-notices"])}
    yield sources
    for source in sources.values():
        source.close()


def bizinfo_item(**fields) -> RawItem:
    payload = {"pblancId": "PBLN_9", "pblancNm": "지원사업", "bsnsSumryCn": "내용", "jrsdInsttNm": "중소벤처기업부", **fields}
    return RawItem(source_id="PBLN_9", payload=payload)


def test_bizinfo_attachments_with_empty_segments_stay_paired(built):
    record = built["bizinfo"].map_one(bizinfo_item(flpthNm="/f?id=1@@/f?id=3", fileNm="공고문.hwp@@신청서.hwp"))
    assert [(a["name"], a["url"]) for a in record.attachments] == [
        ("공고문.hwp", "https://www.bizinfo.go.kr/f?id=1"), ("신청서.hwp", "https://www.bizinfo.go.kr/f?id=3")]
    shifted = built["bizinfo"].map_one(bizinfo_item(flpthNm="/f?id=1@/f?id=3", fileNm="공고문.hwp@@신청서.hwp"))
    assert [a["name"] for a in shifted.attachments] == ["공고문.hwp", "신청서.hwp"]   # same count of names and URLs
    unnamed = built["bizinfo"].map_one(bizinfo_item(flpthNm="/files/a.pdf@/files/b.pdf", fileNm="@"))
    assert [a["name"] for a in unnamed.attachments] == ["a.pdf", "b.pdf"]


@pytest.mark.parametrize("field, value, message", [
    ("pblancNm", ["a", "b"], "'pblancNm': expected text, got a list"),
    ("jrsdInsttNm", {"ko": "부"}, "'jrsdInsttNm': expected text, got an object"),
    ("hashtags", True, "'hashtags': expected text, got a boolean"),
    ("pblancUrl", "javascript:void(0)", "pblancUrl: not a web link"),
    ("bsnsSumryCn", "<div>" * 500, "HTML nested deeper"),
    ("extra", json.loads("[" * 40 + "]" * 40), "nested deeper than 32"),
])
def test_one_wrong_field_rejects_that_item_only(built, field, value, message):
    good = bizinfo_item()
    bad = RawItem(source_id="PBLN_10", payload={**good.payload, "pblancId": "PBLN_10", field: value})
    mapped = built["bizinfo"].map_page(FetchedPage(number=1, items=[good, bad, good.model_copy()]))
    assert len(mapped.records) == 2
    (rejection,) = mapped.rejections
    assert rejection.error_code == "DP_2001" and message in rejection.reason and rejection.source_id == "PBLN_10"


def test_numbers_where_text_is_expected_are_read_as_text(built):
    record = built["kstartup"].map_one(RawItem(source_id="5", payload={
        "pbanc_sn": 5, "biz_pbanc_nm": 2025, "pbanc_ctnt": "내용", "pbanc_ntrp_nm": "창업진흥원",
        "pbanc_rcpt_bgng_dt": 20250304, "pbanc_rcpt_end_dt": "20250324"}))
    assert record.title == "2025" and str(record.application_start_date) == "2025-03-04"


def test_a_list_entry_that_is_not_an_object_is_rejected_on_its_own(built):
    response = HttpResponse(200, {}, json.dumps({"jsonArray": [ITEM | {"bsnsSumryCn": "x", "jrsdInsttNm": "부"}, 7,
                                                                None, "text"]}).encode(), "https://x/y")
    items = built["bizinfo"]._interpret(response)
    mapped = built["bizinfo"].map_page(FetchedPage(number=1, items=items))
    assert len(mapped.records) == 1 and len(mapped.rejections) == 3
    assert {r.raw_payload["_aegis_not_an_object"] for r in mapped.rejections} == {7, None, "text"}


def test_portal_attachments_one_value_or_repeated(built):
    source = built["portal:mss-notices"]
    base = {"itemId": "1", "title": "공고", "dataContents": "<p>내용</p>", "viewUrl": "/site/v.do?id=1"}
    one = source.map_one(RawItem(source_id="1", payload={**base, "fileName": "a.hwp", "fileUrl": "/d?f=1"}))
    many = source.map_one(RawItem(source_id="1", payload={**base, "fileName": ["a.hwp", "b.hwp"],
                                                          "fileUrl": ["/d?f=1", "/d?f=2"]}))
    assert [(a["name"], a["url"]) for a in one.attachments] == [("a.hwp", "https://www.mss.go.kr/d?f=1")]
    assert [a["name"] for a in many.attachments] == ["a.hwp", "b.hwp"]
    assert one.original_url == "https://www.mss.go.kr/site/v.do?id=1" and one.issuing_organization == "중소벤처기업부"


# -- oversized records ------------------------------------------------------------------------------
def fields(**overrides):
    return {"title": "큰 공고", "content": "내용", "issuing_organization": "부", "raw_data": {"a": "b"}, **overrides}


def test_content_over_the_limit_is_cut_and_flagged():
    record = build_record("bizinfo", "X", **fields(content="가" * (MAX_CONTENT_CHARS + 5000)))
    assert len(record.content) == MAX_CONTENT_CHARS
    assert record.raw_data[TRUNCATION_KEY]["content"] == {"original_chars": MAX_CONTENT_CHARS + 5000,
                                                          "kept_chars": MAX_CONTENT_CHARS}


def test_raw_data_over_the_limit_has_its_longest_strings_cut_and_flagged():
    raw = {"bsnsSumryCn": "<p>" + "나" * 400_000 + "</p>", "image": "data:image/png;base64," + "A" * 900_000,
           "pblancId": "PBLN_1", "short": "그대로"}
    record = build_record("bizinfo", "X", **fields(raw_data=raw))
    note = record.raw_data[TRUNCATION_KEY]["raw_data"]
    assert note["original_bytes"] == json_text_size(raw) and set(note["fields"]) == {"bsnsSumryCn", "image"}
    kept = {k: v for k, v in record.raw_data.items() if k != TRUNCATION_KEY}
    assert json_text_size(kept) <= MAX_RAW_DATA_BYTES
    assert kept["short"] == "그대로" and kept["pblancId"] == "PBLN_1" and kept["image"].endswith("…")
    assert streamed_size(record.model_dump(mode="json")) <= MAX_RECORD_BYTES


def test_a_record_that_cannot_be_made_to_fit_is_rejected_with_dp_2004():
    attachments = [{"name": f"첨부{i}.hwp" * 20, "url": f"https://x.go.kr/{i}" * 20} for i in range(3000)]
    with pytest.raises(DataError) as raised:
        build_record("bizinfo", "X", **fields(attachments=attachments))
    assert raised.value.code is ErrorCode.RECORD_TOO_LARGE
    many_keys = {f"k{i}": i for i in range(100_000)}
    with pytest.raises(DataError) as too_many:
        build_record("bizinfo", "X", **fields(raw_data=many_keys))
    assert too_many.value.code is ErrorCode.RECORD_TOO_LARGE


def test_the_truncation_flag_cannot_be_forged_by_a_source():
    record = build_record("bizinfo", "X", **fields(raw_data={"a": 1, TRUNCATION_KEY: {"content": "fake"}}))
    assert TRUNCATION_KEY not in record.raw_data


def test_no_uncaught_exception_from_the_safety_net_either(built, caplog):
    class Broken(type(built["bizinfo"])):
        def map_item(self, item):
            raise KeyError("boom")

    broken = Broken.__new__(Broken)
    broken.name = "bizinfo"
    rejection = broken.map_one(bizinfo_item())
    assert rejection.error_code == "DP_2001" and "a collector bug" in rejection.reason
    assert "record mapping failed unexpectedly" in caplog.text


def test_aegis_errors_are_the_only_errors(built):
    with pytest.raises(AegisError):
        built["bizinfo"]._interpret(HttpResponse(200, {}, b"\xef\xbb\xbf" + b"[" * 50_000, "https://x/y"))


def test_short_fields_over_their_limit_are_cut_and_flagged():
    from aegis.models.limits import MAX_FIELD_CHARS

    record = build_record("bizinfo", "X", **fields(support_field="기" * 20_000, executing_organization="기관"))
    assert len(record.support_field) == MAX_FIELD_CHARS and record.executing_organization == "기관"
    assert record.raw_data[TRUNCATION_KEY] == {"support_field": {"original_chars": 20_000, "kept_chars": MAX_FIELD_CHARS}}


def test_the_shape_tables_in_the_docs_are_current():
    from pathlib import Path

    from collectors.samples.shapes import render_docs

    doc = Path(__file__).resolve().parents[3] / "docs" / "collectors.md"
    text = doc.read_text(encoding="utf-8")
    assert render_docs(text) == text, "run `make docs`"
    assert "<!-- shapes-table:start -->\n| shape |" in text and "<!-- errors-table:start -->\n| fault" in text


def test_serve_samples_takes_shapes_and_rejects_unknown_ones():
    from click.testing import CliRunner

    from collectors.samples.shapes import Shape, parse_shape_option
    from console.cli import cli

    assert parse_shape_option("kstartup=classic-xml,bom") == ("kstartup", [Shape.CLASSIC_XML, Shape.BOM])
    result = CliRunner().invoke(cli, ["--env-file", "/nonexistent", "sources", "serve-samples", "--shape", "x=nope"])
    assert result.exit_code == 2 and "--shape" in result.output


def test_a_first_page_without_items_while_the_source_states_some_is_an_error(built):
    from types import SimpleNamespace

    source = built["kstartup"]
    body = json.dumps({"currentCount": 0, "data": [], "matchCount": 50, "page": 1, "perPage": 100}).encode()
    client = source.client
    source.client = SimpleNamespace(get=lambda url, params, interpret, what: interpret(
        HttpResponse(200, {}, body, "https://apis.data.go.kr/x")))
    try:
        with pytest.raises(TerminalError) as raised:
            list(source.pages())
    finally:
        source.client = client
    assert raised.value.code is ErrorCode.INVALID_DATA_FORMAT and "states 50 records" in raised.value.message


def test_an_empty_classic_result_may_leave_items_out():
    body = {"response": {"header": {"resultCode": "00"}, "body": {"numOfRows": 10, "pageNo": 1, "totalCount": 0}}}
    assert listing(json.dumps(body).encode()).items == []
    with pytest.raises(TerminalError, match="unexpected response shape"):
        body["response"]["body"]["totalCount"] = 3
        listing(json.dumps(body).encode())
