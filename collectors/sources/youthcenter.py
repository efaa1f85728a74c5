"""온통청년 youth policies — ``GET /go/ythip/getPlcy`` (formats.md §4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.dates import ApplicationPeriod, parse_kst_timestamp, parse_period
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.regions import regions_from_district_codes
from collectors.sources.base import ApiSource, as_int, build_record, text_or_none, without_keys
from collectors.sources.responses import decode_json, expect_object

LIVE_URL = "https://www.youthcenter.go.kr"
PATH = "/go/ythip/getPlcy"
DETAIL_URL = "https://www.youthcenter.go.kr/youthPolicy/ythPlcyTotalSearch/ythPlcyDetail/{}"
KEY_SETTING = "SOURCE_YOUTHCENTER_API_KEY"
ALWAYS_OPEN_CODE = "0057002"
_VOLATILE = frozenset({"inqCnt"})


class YouthCenterSource(ApiSource):
    name = "youthcenter"

    def pages(self) -> Iterator[FetchedPage]:
        seen = 0
        for number in range(1, self.endpoint.max_pages + 1):
            params = {"apiKeyNm": self.endpoint.api_key or "", "pageNum": number,
                      "pageSize": self.endpoint.page_size, "pageType": 1, "rtnType": "json"}
            result = self.client.get(self.endpoint.base_url + PATH, params, self._interpret, what=f"page {number}")
            rows = [r for r in result.get("youthPolicyList") or [] if isinstance(r, dict)]
            if not rows:
                return
            total = as_int((result.get("pagging") or {}).get("totCount"))
            seen += len(rows)
            yield FetchedPage(number=number, total=total,
                              items=[RawItem(source_id=text_or_none(r.get("plcyNo")), payload=r) for r in rows])
            if total is not None and seen >= total or len(rows) < self.endpoint.page_size:
                return

    def _interpret(self, response: HttpResponse) -> dict[str, Any]:
        what = f"{self.name} {response.location}"
        if response.status_code in (401, 403):
            raise TerminalError(f"{what}: HTTP {response.status_code} (key refused)",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint=f"check {KEY_SETTING}")
        if response.status_code != 200:
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint="check SOURCE_YOUTHCENTER_BASE_URL")
        body = expect_object(decode_json(response, what), what, "resultCode")
        if str(body.get("resultCode")) != "200":
            raise TerminalError(f"{what}: 온통청년 answered {body.get('resultCode')}: {body.get('resultMessage')}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint=f"check {KEY_SETTING} and the request")
        return expect_object(body.get("result") or {}, what, "youthPolicyList")

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        period = _period(raw)
        sections = [html_to_text(raw.get("plcyExplnCn"))]
        if support := html_to_text(raw.get("plcySprtCn")):
            sections.append(f"[지원내용] {support}")
        large, medium = unescape(raw.get("lclsfNm")), unescape(raw.get("mclsfNm"))
        return build_record(
            self.name, item.source_id,
            title=unescape(raw.get("plcyNm")) or "",
            content="\n".join(s for s in sections if s),
            issuing_organization=unescape(raw.get("sprvsnInstCdNm")) or "",
            executing_organization=unescape(raw.get("operInstCdNm")),
            target_regions=regions_from_district_codes(raw.get("zipCd")),
            target_group=_age_group(raw.get("sprtTrgtMinAge"), raw.get("sprtTrgtMaxAge")),
            support_field=" > ".join(x for x in (large, medium) if x) or None,
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=DETAIL_URL.format(item.source_id) if item.source_id else None,
            raw_data=without_keys(raw, _VOLATILE),
            source_updated_at=parse_kst_timestamp(raw.get("lastMdfcnDt")) or parse_kst_timestamp(raw.get("frstRegDt")),
        )


def _period(raw: dict[str, Any]) -> ApplicationPeriod:
    period = parse_period(text_or_none(raw.get("aplyYmd")))
    if str(raw.get("aplyPrdSeCd") or "").strip() == ALWAYS_OPEN_CODE:
        return period.model_copy(update={"always_open": True, "text": period.text or "상시"})
    return period


def _age_group(minimum: Any, maximum: Any) -> str:
    low, high = as_int(minimum) or 0, as_int(maximum) or 0
    if low and high:
        return f"청년 (만 {low}세 ~ {high}세)"
    if high:
        return f"청년 (만 {high}세 이하)"
    if low:
        return f"청년 (만 {low}세 이상)"
    return "청년"
