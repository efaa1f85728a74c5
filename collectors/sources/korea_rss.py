"""정책브리핑 (korea.kr) RSS feeds — ``/rss/{feed}.xml`` (formats.md §6).

Each feed is one page (RSS has no paging). An article can appear in several feeds; it is
collected once per pass, under its ``newsId``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree.ElementTree import Element

from lxml import etree

from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse, SourceHttpClient
from collectors.models import FetchedPage, RawItem
from collectors.parsing.body import local_name
from collectors.parsing.dates import parse_rfc822
from collectors.parsing.html import html_to_text, parse_fragment
from collectors.sources.base import ApiSource, Endpoint, build_record
from collectors.sources.fields import ItemFields
from collectors.sources.responses import xml_root

LIVE_URL = "https://www.korea.kr"
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
            raise TerminalError(f"{what}: unexpected HTTP {response.status_code}",
                                code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                hint="check SOURCE_KOREA_RSS_BASE_URL and SOURCE_KOREA_RSS_FEEDS")
        root = xml_root(response, what)
        channel = next((c for c in root if local_name(c.tag) == "channel"), None)
        if local_name(root.tag) != "rss" or channel is None:
            raise TerminalError(f"{what}: not an RSS 2.0 document (root <{local_name(root.tag) or '?'}>)",
                                code=ErrorCode.INVALID_DATA_FORMAT, hint="check SOURCE_KOREA_RSS_FEEDS")
        items = []
        for element in channel:
            if local_name(element.tag) != "item":
                continue
            payload = {name: _text(element, name) for name in ("title", "link", "description", "pubDate", "guid")}
            payload["creator"] = _text(element, "creator")
            items.append(RawItem(source_id=news_id(payload["link"]) or payload["guid"], payload=payload))
        return items

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        f = ItemFields(raw)
        body, provider = _article_text(f.text("description"))
        return build_record(
            self.name, item.source_id,
            title=f.html("title"),
            content=body,
            issuing_organization=f.plain("creator") or provider or "",
            original_url=clean_link(f.url("link", LIVE_URL)),
            raw_data=dict(raw),
            source_updated_at=parse_rfc822(f.text("pubDate")),
        )


def _text(item: Element, name: str) -> str | None:
    """All text of the item's first child called ``name`` (any namespace: ``dc:creator``), trimmed."""
    child = next((c for c in item if local_name(c.tag) == name), None)
    if child is None:
        return None
    return "".join(child.itertext()).strip() or None


def news_id(link: str | None) -> str | None:
    """``newsId`` from an article link (``...?newsId=148939000&call_from=rsslink``)."""
    if not link:
        return None
    try:
        values = parse_qs(urlsplit(link.strip()).query).get("newsId")
    except ValueError:
        return None
    return values[0].strip()[:255] or None if values else None


def clean_link(link: str | None) -> str | None:
    """A canonical article link without RSS tracking parameters (``call_from=rsslink``)."""
    if not link:
        return None
    parts = urlsplit(link)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _TRACKING_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _article_text(description: str | None) -> tuple[str, str | None]:
    """Press-release text without the leading view-button link and the ``[자료제공 : ...]`` footer."""
    markup = description
    if not markup:
        return "", None
    root = parse_fragment(markup)  # DataError when nested too deeply
    if root is not None:
        for anchor in root.xpath(".//a[img]"):
            if not (anchor.text_content() or "").strip():  # the image-only "view" button
                anchor.drop_tree()
        markup = etree.tostring(root, encoding="unicode", method="html")
    text = html_to_text(markup)
    provider = None
    if match := _FOOTER.search(text):
        provider = " ".join(match["who"].split()) or None
        text = text[:match.start()].rstrip()
    return text, provider
