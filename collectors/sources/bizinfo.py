"""Bizinfo (기업마당) support programmes — ``GET /uss/rss/bizinfoApi.do`` (formats.md §1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.contacts import find_email, find_phone
from collectors.parsing.dates import parse_kst_timestamp, parse_period
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.regions import regions_from_text
from collectors.sources.base import ApiSource, as_int, build_record, text_or_none, without_keys
from collectors.sources.responses import decode_json, expect_object

LIVE_URL = "https://www.bizinfo.go.kr"
PATH = "/uss/rss/bizinfoApi.do"
KEY_SETTING = "SOURCE_BIZINFO_API_KEY"
_VOLATILE = frozenset({"inqireCo", "totCnt"})  # view count and list size change without the programme changing


class BizinfoSource(ApiSource):
    name = "bizinfo"

    def pages(self) -> Iterator[FetchedPage]:
        seen, total = 0, None
        for number in range(1, self.endpoint.max_pages + 1):
            params = {"crtfcKey": self.endpoint.api_key or "", "dataType": "json",
                      "pageUnit": self.endpoint.page_size, "pageIndex": number}
            items = self.client.get(self.endpoint.base_url + PATH, params, self._interpret, what=f"page {number}")
            if not items:
                return
            if total is None:
                total = as_int(items[0].get("totCnt"))
            seen += len(items)
            yield FetchedPage(number=number, total=total,
                              items=[RawItem(source_id=text_or_none(i.get("pblancId")), payload=i) for i in items])
            if total is not None and seen >= total or len(items) < self.endpoint.page_size:
                return

    def _interpret(self, response: HttpResponse) -> list[dict[str, Any]]:
        what = f"{self.name} {response.location}"
        if response.status_code != 200:
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}", code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                hint="check SOURCE_BIZINFO_BASE_URL")
        body = decode_json(response, what)
        if isinstance(body, dict) and "reqErr" in body:
            raise TerminalError(f"{what}: Bizinfo refused the request: {body['reqErr']}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                hint=f"check {KEY_SETTING} (the key issued by bizinfo.go.kr)")
        items = expect_object(body, what, "jsonArray")["jsonArray"]
        if not isinstance(items, list):
            raise TerminalError(f"{what}: jsonArray is not a list", code=ErrorCode.INVALID_DATA_FORMAT)
        return [i for i in items if isinstance(i, dict)]

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        period = parse_period(text_or_none(raw.get("reqstBeginEndDe")))
        large, medium = unescape(raw.get("pldirSportRealmLclasCodeNm")), unescape(raw.get("pldirSportRealmMlsfcCodeNm"))
        reference = unescape(raw.get("refrncNm"))
        url = text_or_none(raw.get("pblancUrl"))
        return build_record(
            self.name, item.source_id,
            title=unescape(raw.get("pblancNm")) or "",
            content=html_to_text(raw.get("bsnsSumryCn")),
            issuing_organization=unescape(raw.get("jrsdInsttNm")) or "",
            executing_organization=unescape(raw.get("excInsttNm")),
            target_regions=regions_from_text(raw.get("hashtags")),
            target_group=unescape(raw.get("trgetNm")),
            support_field=" > ".join(x for x in (large, medium) if x) or None,
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=urljoin(LIVE_URL, url) if url else None,
            contact_phone=find_phone(reference), contact_email=find_email(reference),
            attachments=_attachments(raw),
            raw_data=without_keys(raw, _VOLATILE),
            source_updated_at=parse_kst_timestamp(raw.get("updtPnttm")) or parse_kst_timestamp(raw.get("creatPnttm")),
        )


def _attachments(raw: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for kind, urls_key, names_key in (("attachment", "flpthNm", "fileNm"), ("print", "printFlpthNm", "printFileNm")):
        urls = [u.strip() for u in (raw.get(urls_key) or "").split("@") if u.strip()]
        names = [n.strip() for n in (raw.get(names_key) or "").split("@")]
        for index, url in enumerate(urls):
            name = names[index] if index < len(names) and names[index] else url.rsplit("/", 1)[-1]
            found.append({"name": name, "url": urljoin(LIVE_URL, url), "kind": kind})
    return found
