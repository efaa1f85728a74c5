"""K-Startup announcements (data.go.kr) — ``getAnnouncementInformation01`` (formats.md §2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.dates import period_from_dates
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.regions import regions_from_text
from collectors.sources.base import ApiSource, as_int, build_record, text_or_none, without_keys
from collectors.sources.datagokr import NoData, raise_for_gateway_error
from collectors.sources.responses import decode_json, expect_object

LIVE_URL = "https://apis.data.go.kr"
PATH = "/B552735/kisedKstartupService01/getAnnouncementInformation01"
KEY_SETTING = "SOURCE_KSTARTUP_API_KEY"
_VOLATILE = frozenset({"id"})  # a row number in the listing, not an identifier


class KStartupSource(ApiSource):
    name = "kstartup"

    def pages(self) -> Iterator[FetchedPage]:
        seen = 0
        for number in range(1, self.endpoint.max_pages + 1):
            params = {"serviceKey": self.endpoint.api_key or "", "page": number,
                      "perPage": self.endpoint.page_size, "returnType": "json"}
            body = self.client.get(self.endpoint.base_url + PATH, params, self._interpret, what=f"page {number}")
            if body is None:
                return
            rows = [r for r in body.get("data") or [] if isinstance(r, dict)]
            match_count = as_int(body.get("matchCount"))
            if not rows:
                return
            seen += len(rows)
            yield FetchedPage(number=number, total=match_count, items=[
                RawItem(source_id=text_or_none(r.get("pbanc_sn")), payload=r) for r in rows])
            if match_count is not None and seen >= match_count or len(rows) < self.endpoint.page_size:
                return

    def _interpret(self, response: HttpResponse) -> dict[str, Any] | None:
        what = f"{self.name} {response.location}"
        try:
            raise_for_gateway_error(response, self.name, what, KEY_SETTING)
        except NoData:
            return None
        if response.status_code != 200:
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint="check SOURCE_KSTARTUP_BASE_URL")
        return expect_object(decode_json(response, what), what, "data")

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        period = period_from_dates(text_or_none(raw.get("pbanc_rcpt_bgng_dt")), text_or_none(raw.get("pbanc_rcpt_end_dt")))
        sections = [html_to_text(raw.get("pbanc_ctnt"))]
        for label, key in (("신청대상", "aply_trgt_ctnt"), ("제외대상", "aply_excl_trgt_ctnt")):
            if text := html_to_text(raw.get(key)):
                sections.append(f"[{label}] {text}")
        return build_record(
            self.name, item.source_id,
            title=unescape(raw.get("biz_pbanc_nm")) or "",
            content="\n".join(s for s in sections if s),
            issuing_organization=unescape(raw.get("pbanc_ntrp_nm")) or "",
            executing_organization=unescape(raw.get("biz_prch_dprt_nm")),
            target_regions=regions_from_text(raw.get("supt_regin")),
            target_group=unescape(raw.get("aply_trgt")),
            support_field=unescape(raw.get("supt_biz_clsfc")),
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=text_or_none(raw.get("detl_pg_url")) or text_or_none(raw.get("biz_gdnc_url")),
            contact_phone=text_or_none(raw.get("prch_cnpl_no")),
            raw_data=without_keys(raw, _VOLATILE),
        )
