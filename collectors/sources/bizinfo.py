"""Bizinfo (기업마당) support programmes — ``GET /uss/rss/bizinfoApi.do`` (formats.md §1, §8).

The list arrives as ``{"jsonArray": [...]}`` or, as Bizinfo's own documentation shows it,
``{"jsonArray": {"title", "link", "item": [...]}}`` (and every other envelope of
``collectors.sources.envelope``). Errors come with HTTP 200 as ``{"reqErr": "..."}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.contacts import find_email, find_phone
from collectors.parsing.dates import parse_kst_timestamp, parse_period
from collectors.parsing.regions import regions_from_text
from collectors.parsing.urls import canonical_url
from collectors.sources.base import ApiSource, as_int, build_record, without_keys
from collectors.sources.envelope import has_any, items_in, raw_items
from collectors.sources.fields import ItemFields
from collectors.sources.responses import json_body

LIVE_URL = "https://www.bizinfo.go.kr"
PATH = "/uss/rss/bizinfoApi.do"
KEY_SETTING = "SOURCE_BIZINFO_API_KEY"
_VOLATILE = frozenset({"inqireCo", "totCnt"})  # view count and list size change without the programme changing
_LOOKS_LIKE_ITEM = has_any("pblancId", "pblancNm")


class BizinfoSource(ApiSource):
    name = "bizinfo"

    def pages(self) -> Iterator[FetchedPage]:
        return self.paged(self._page)

    def _page(self, number: int) -> tuple[list[RawItem], int | None]:
        params = {"crtfcKey": self.endpoint.api_key or "", "dataType": "json",
                  "pageUnit": self.endpoint.page_size, "pageIndex": number}
        items = self.client.get(self.endpoint.base_url + PATH, params, self._interpret, what=f"page {number}")
        total = next((as_int(i.payload.get("totCnt")) for i in items if "totCnt" in i.payload), None)
        return items, total

    def _interpret(self, response: HttpResponse) -> list[RawItem]:
        what = f"{self.name} {response.location}"
        if response.status_code != 200:
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE, hint="check SOURCE_BIZINFO_BASE_URL")
        body = json_body(response, what)
        if isinstance(body, dict) and "reqErr" in body:
            raise TerminalError(f"{what}: Bizinfo refused the request: {str(body['reqErr'])[:300]}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                hint=f"check {KEY_SETTING} (the key issued by bizinfo.go.kr)")
        if isinstance(body, dict) and "jsonArray" in body:
            listing = body["jsonArray"]
        elif isinstance(body, list):
            listing = body
        else:
            raise TerminalError(f"{what}: unexpected response shape (no 'jsonArray')",
                                code=ErrorCode.INVALID_DATA_FORMAT,
                                hint="the source changed its format; the collector needs updating")
        return raw_items(items_in(listing, what, looks_like_item=_LOOKS_LIKE_ITEM), lambda i: i.get("pblancId"))

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        f = ItemFields(raw)
        period = parse_period(f.text("reqstBeginEndDe"))
        large, medium = f.plain("pldirSportRealmLclasCodeNm"), f.plain("pldirSportRealmMlsfcCodeNm")
        reference = f.plain("refrncNm")
        return build_record(
            self.name, item.source_id,
            title=f.plain("pblancNm") or "",
            content=f.html("bsnsSumryCn"),
            issuing_organization=f.plain("jrsdInsttNm") or "",
            executing_organization=f.plain("excInsttNm"),
            target_regions=regions_from_text(f.text("hashtags")),
            target_group=f.plain("trgetNm"),
            support_field=" > ".join(x for x in (large, medium) if x) or None,
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=f.url("pblancUrl", LIVE_URL),
            contact_phone=find_phone(reference), contact_email=find_email(reference),
            attachments=_attachments(f),
            raw_data=without_keys(raw, _VOLATILE),
            source_updated_at=parse_kst_timestamp(f.text("updtPnttm")) or parse_kst_timestamp(f.text("creatPnttm")),
        )


def _attachments(f: ItemFields) -> list[dict[str, str]]:
    """Attachments joined with ``@``. Names and URLs are paired by position, empty segments
    (``a@@b``) included; when the two lists have different lengths but the same number of
    non-empty entries, the non-empty ones are paired in order instead."""
    found: list[dict[str, str]] = []
    for kind, urls_key, names_key in (("attachment", "flpthNm", "fileNm"), ("print", "printFlpthNm", "printFileNm")):
        urls = [u.strip() for u in (f.text(urls_key) or "").split("@")]
        names = [n.strip() for n in (f.text(names_key) or "").split("@")]
        if len(urls) != len(names):
            present_urls, present_names = [u for u in urls if u], [n for n in names if n]
            if len(present_urls) == len(present_names):
                urls, names = present_urls, present_names
        for url, name in zip_longest(urls, names, fillvalue=""):
            if not url:
                continue
            absolute = canonical_url(url, LIVE_URL, field=urls_key)
            if absolute is None:  # blank once unescaped and trimmed (" ", "&nbsp;"): no attachment
                continue
            found.append({"name": name or absolute.rsplit("/", 1)[-1].split("?", 1)[0] or absolute,
                          "url": absolute, "kind": kind})
    return found
