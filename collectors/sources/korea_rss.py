"""정책브리핑 (korea.kr) RSS feeds — ``/rss/{feed}.xml`` (formats.md §6).

Each feed is one page (RSS has no paging). An article can appear in several feeds; it is
collected once per pass, under its ``newsId``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import lxml.html
from lxml import etree

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse
from collectors.models import FetchedPage, RawItem
from collectors.parsing.dates import parse_rfc822
from collectors.parsing.html import html_to_text, unescape
from collectors.parsing.xml import child_text, parse_xml
from collectors.sources.base import ApiSource, Endpoint, build_record, text_or_none
from collectors.http.client import SourceHttpClient

LIVE_URL = "https://www.korea.kr"
DC = "http://purl.org/dc/elements/1.1/"
_FOOTER = re.compile(r"\[\s*자료제공\s*:\s*(?P<who>[^\]]*)\]\s*$")
_TRACKING_PARAMS = {"call_from"}


class KoreaRssSource(ApiSource):
    name = "korea_rss"

    def __init__(self, endpoint: Endpoint, client: SourceHttpClient, feeds: list[str]):
        super().__init__(endpoint, client)
        self.feeds = feeds

    def pages(self) -> Iterator[FetchedPage]:
        seen: set[str] = set()
        for number, feed in enumerate(self.feeds, start=1):
            url = f"{self.endpoint.base_url}/rss/{feed}.xml"
            items = self.client.get(url, {}, self._interpret, what=f"feed {feed}")
            fresh = []
            for item in items:
                if item.source_id and item.source_id in seen:
                    continue
                seen.add(item.source_id or "")
                fresh.append(item)
            yield FetchedPage(number=number, items=fresh, total=None)

    def _interpret(self, response: HttpResponse) -> list[RawItem]:
        what = f"{self.name} {response.location}"
        if response.status_code != 200:
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}", code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                hint="check SOURCE_KOREA_RSS_BASE_URL and SOURCE_KOREA_RSS_FEEDS")
        root = parse_xml(response.content, what=what)
        channel = root.find("channel")
        if root.tag != "rss" or channel is None:
            raise TerminalError(f"{what}: not an RSS 2.0 document (root <{root.tag}>)",
                                code=ErrorCode.INVALID_DATA_FORMAT, hint="check SOURCE_KOREA_RSS_FEEDS")
        items = []
        for element in channel.findall("item"):
            payload = {
                "title": child_text(element, "title"),
                "link": child_text(element, "link"),
                "description": child_text(element, "description"),
                "pubDate": child_text(element, "pubDate"),
                "guid": child_text(element, "guid"),
                "creator": child_text(element, f"{{{DC}}}creator"),
            }
            items.append(RawItem(source_id=news_id(payload["link"]) or payload["guid"], payload=payload))
        return items

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        body, provider = _article_text(raw.get("description"))
        return build_record(
            self.name, item.source_id,
            title=html_to_text(raw.get("title")),
            content=body,
            issuing_organization=unescape(raw.get("creator")) or provider or "",
            original_url=clean_link(raw.get("link")),
            raw_data=dict(raw),
            source_updated_at=parse_rfc822(raw.get("pubDate")),
        )


def news_id(link: str | None) -> str | None:
    """``newsId`` from an article link (``...?newsId=148939000&call_from=rsslink``)."""
    if not link:
        return None
    values = parse_qs(urlsplit(link.strip()).query).get("newsId")
    return values[0] if values else None


def clean_link(link: str | None) -> str | None:
    """The article link without RSS tracking parameters (``call_from=rsslink``)."""
    if not link:
        return None
    parts = urlsplit(link.strip())
    query = [(k, v) for k, values in parse_qs(parts.query, keep_blank_values=True).items()
             for v in values if k not in _TRACKING_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _article_text(description: Any) -> tuple[str, str | None]:
    """Press-release text without the leading view-button link and the ``[자료제공 : ...]`` footer."""
    markup = text_or_none(description)
    if markup is None:
        return "", None
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
        for anchor in root.xpath(".//a[img]"):
            if not (anchor.text_content() or "").strip():  # the image-only "view" button
                anchor.drop_tree()
        markup = etree.tostring(root, encoding="unicode", method="html")
    except (etree.ParserError, ValueError):
        pass
    text = html_to_text(markup)
    provider = None
    if match := _FOOTER.search(text):
        provider = " ".join(match["who"].split()) or None
        text = text[:match.start()].rstrip()
    return text, provider
