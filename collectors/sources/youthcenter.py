"""온통청년 youth policies — ``GET /go/ythip/getPlcy`` (formats.md §4)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.dates import ApplicationPeriod, parse_kst_timestamp, parse_period
from collectors.parsing.regions import regions_from_district_codes
from collectors.parsing.urls import canonical_url
from collectors.sources.base import ApiSource, as_int, build_record, check_first_page, without_keys
from collectors.sources.envelope import describe, follow, has_any, items_in, raw_items
from collectors.sources.fields import ItemFields, source_id_of
from collectors.sources.responses import expect_object, json_body

LIVE_URL = "https://www.youthcenter.go.kr"
PATH = "/go/ythip/getPlcy"
DETAIL_URL = "https://www.youthcenter.go.kr/youthPolicy/ythPlcyTotalSearch/ythPlcyDetail/{}"
KEY_SETTING = "SOURCE_YOUTHCENTER_API_KEY"
ALWAYS_OPEN_CODE = "0057002"
_VOLATILE = frozenset({"inqCnt"})
_LOOKS_LIKE_ITEM = has_any("plcyNo", "plcyNm")


class YouthCenterSource(ApiSource):
    name = "youthcenter"

    def pages(self) -> Iterator[FetchedPage]:
        seen = 0
        for number in range(1, self.endpoint.max_pages + 1):
            params = {"apiKeyNm": self.endpoint.api_key or "", "pageNum": number,
                      "pageSize": self.endpoint.page_size, "pageType": 1, "rtnType": "json"}
            items, total = self.client.get(self.endpoint.base_url + PATH, params, self._interpret,
                                           what=f"page {number}")
            check_first_page(self.name, number, len(items), total)
            if not items:
                return
            seen += len(items)
            yield FetchedPage(number=number, total=total, items=items)
            if (total is not None and seen >= total) or len(items) < self.endpoint.page_size:
                return

    def _interpret(self, response: HttpResponse) -> tuple[list[RawItem], int | None]:
        what = f"{self.name} {response.location}"
        if response.status_code in (401, 403):
            raise TerminalError(f"{what}: HTTP {response.status_code} (key refused)",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint=f"check {KEY_SETTING}")
        if response.status_code != 200:
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint="check SOURCE_YOUTHCENTER_BASE_URL")
        body = expect_object(json_body(response, what), what, "resultCode")
        if source_id_of(body.get("resultCode")) != "200":
            raise TerminalError(f"{what}: 온통청년 answered {str(body.get('resultCode'))[:40]}: "
                                f"{str(body.get('resultMessage'))[:200]}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint=f"check {KEY_SETTING} and the request")
        result = body.get("result")
        if result is None or result == "" or result == {}:
            return [], 0
        present, listing = follow(result, ("youthPolicyList",))
        if not present:
            raise TerminalError(f"{what}: unexpected response shape: result is {describe(result)} "
                                "(no 'youthPolicyList')", code=ErrorCode.INVALID_DATA_FORMAT,
                                hint="the source changed its format; the collector needs updating")
        _, paging = follow(result, ("pagging",))
        total = as_int(paging.get("totCount")) if isinstance(paging, dict) else None
        values = items_in(listing, what, looks_like_item=_LOOKS_LIKE_ITEM)
        return raw_items(values, lambda r: r.get("plcyNo")), total

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        f = ItemFields(raw)
        period = _period(f)
        sections = [f.html("plcyExplnCn")]
        if support := f.html("plcySprtCn"):
            sections.append(f"[지원내용] {support}")
        large, medium = f.plain("lclsfNm"), f.plain("mclsfNm")
        return build_record(
            self.name, item.source_id,
            title=f.plain("plcyNm") or "",
            content="\n".join(s for s in sections if s),
            issuing_organization=f.plain("sprvsnInstCdNm") or "",
            executing_organization=f.plain("operInstCdNm"),
            target_regions=regions_from_district_codes(f.text("zipCd")),
            target_group=_age_group(f.integer("sprtTrgtMinAge"), f.integer("sprtTrgtMaxAge")),
            support_field=" > ".join(x for x in (large, medium) if x) or None,
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=canonical_url(DETAIL_URL.format(quote(item.source_id, safe="")), None, field="plcyNo")
            if item.source_id else None,
            raw_data=without_keys(raw, _VOLATILE),
            source_updated_at=parse_kst_timestamp(f.text("lastMdfcnDt")) or parse_kst_timestamp(f.text("frstRegDt")),
        )


def _period(f: ItemFields) -> ApplicationPeriod:
    period = parse_period(f.text("aplyYmd"))
    if f.text("aplyPrdSeCd") == ALWAYS_OPEN_CODE:
        return period.model_copy(update={"always_open": True, "text": period.text or "상시"})
    return period


def _age_group(minimum: int | None, maximum: int | None) -> str:
    low, high = minimum or 0, maximum or 0
    if low and high:
        return f"청년 (만 {low}세 ~ {high}세)"
    if high:
        return f"청년 (만 {high}세 이하)"
    if low:
        return f"청년 (만 {low}세 이상)"
    return "청년"
