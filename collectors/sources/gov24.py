"""보조금24 public services (odcloud) — ``GET /api/gov24/v3/serviceList`` (formats.md §5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.dates import parse_kst_timestamp, parse_period
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.regions import NATIONWIDE, regions_from_text
from collectors.sources.base import ApiSource, as_int, build_record, text_or_none, without_keys
from collectors.sources.datagokr import NoData, raise_for_gateway_error, raise_for_odcloud_error
from collectors.sources.responses import decode_json, expect_object

LIVE_URL = "https://api.odcloud.kr"
PATH = "/api/gov24/v3/serviceList"
KEY_SETTING = "SOURCE_GOV24_API_KEY"
_VOLATILE = frozenset({"조회수"})
_SECTIONS = (("서비스목적", "서비스목적요약"), ("지원대상", "지원대상"), ("선정기준", "선정기준"),
             ("지원내용", "지원내용"), ("신청방법", "신청방법"))


class Gov24Source(ApiSource):
    name = "gov24"

    def pages(self) -> Iterator[FetchedPage]:
        seen = 0
        for number in range(1, self.endpoint.max_pages + 1):
            params = {"serviceKey": self.endpoint.api_key or "", "page": number,
                      "perPage": self.endpoint.page_size, "returnType": "JSON"}
            body = self.client.get(self.endpoint.base_url + PATH, params, self._interpret, what=f"page {number}")
            rows = [r for r in (body or {}).get("data") or [] if isinstance(r, dict)]
            if not rows:
                return
            match_count = as_int(body.get("matchCount"))
            seen += len(rows)
            yield FetchedPage(number=number, total=match_count,
                              items=[RawItem(source_id=text_or_none(r.get("서비스ID")), payload=r) for r in rows])
            if match_count is not None and seen >= match_count or len(rows) < self.endpoint.page_size:
                return

    def _interpret(self, response: HttpResponse) -> dict[str, Any] | None:
        what = f"{self.name} {response.location}"
        try:
            raise_for_gateway_error(response, self.name, what, KEY_SETTING)
        except NoData:
            return None
        raise_for_odcloud_error(response, what, KEY_SETTING)
        return expect_object(decode_json(response, what), what, "data")

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        period = parse_period(text_or_none(raw.get("신청기한")))
        sections = [f"[{label}] {text}" for label, key in _SECTIONS if (text := html_to_text(raw.get(key)))]
        return build_record(
            self.name, item.source_id,
            title=unescape(raw.get("서비스명")) or "",
            content="\n".join(sections),
            issuing_organization=unescape(raw.get("소관기관명")) or "",
            executing_organization=_joined(raw.get("접수기관")),
            target_regions=_regions(raw),
            target_group=_joined(raw.get("사용자구분")),
            support_field=_joined(raw.get("서비스분야")),
            funding_type=_joined(raw.get("지원유형")),
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=text_or_none(raw.get("상세조회URL")),
            contact_phone=_joined(raw.get("전화문의")),
            raw_data=without_keys(raw, _VOLATILE),
            source_updated_at=parse_kst_timestamp(raw.get("수정일시")) or parse_kst_timestamp(raw.get("등록일시")),
        )


def _regions(raw: dict[str, Any]) -> list[str]:
    """Central agencies serve the whole country; local governments their own 시도; others unknown."""
    kind = text_or_none(raw.get("소관기관유형")) or ""
    if kind.startswith("중앙"):
        return [NATIONWIDE]
    if "지방" in kind or "지자체" in kind:
        return regions_from_text(text_or_none(raw.get("소관기관명")))
    return []


def _joined(value: Any) -> str | None:
    """``A||B`` multi-values as ``A, B``."""
    text = unescape(value)
    if text is None:
        return None
    return ", ".join(part.strip() for part in text.split("||") if part.strip()) or None
