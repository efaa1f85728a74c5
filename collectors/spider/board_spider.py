"""``BoardSpider``: reads a board's list pages (to ``max_pages``) and every post's detail page.

Everything site-specific comes from its ``BoardConfig``. Links that leave the board
(``allowed_prefix``) are never followed; robots.txt is obeyed by Scrapy's middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from parsel import Selector, SelectorList
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from collectors.spider.config import BoardConfig


def select(node: Selector | Response, selector: str | None) -> SelectorList:
    if not selector:
        return SelectorList([])
    if selector.startswith("xpath:"):
        return node.xpath(selector[len("xpath:"):])
    return node.css(selector)


def first_text(node: Selector | Response, selector: str | None) -> str | None:
    """All text the selector yields, joined and trimmed (None when empty)."""
    found = select(node, selector)
    if not found:
        return None
    parts = [p.strip() for p in found.getall() if p and p.strip()]
    return " ".join(parts) or None


class BoardSpider(scrapy.Spider):
    name = "aegis_board"

    def __init__(self, board_json: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.board = BoardConfig.model_validate_json(board_json)
        self.allowed_domains = [self.board.domain]
        self.start_failure: str | None = None

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.board.start_url, callback=self.parse_list, errback=self.start_failed,
                             cb_kwargs={"page": 1})

    def start_failed(self, failure: Failure) -> None:
        kind = failure.type.__name__ if failure.type is not None else "Failure"
        self.start_failure = f"{kind}: {failure.getErrorMessage()}"
        self.crawler.stats.set_value("aegis/start_failure", self.start_failure)

    def parse_list(self, response: Response, page: int) -> Iterator[scrapy.Request]:
        self.crawler.stats.inc_value("aegis/list_pages")
        if response.status >= 400:
            self.start_failed_status(response, page)
            return
        for row in select(response, self.board.list.rows):
            href = select(row, self.board.list.link).get()
            if not href:
                continue
            url = self.board.canonical(response.urljoin(href.strip()))
            if not self.board.allows(url):
                self.crawler.stats.inc_value("aegis/offboard_links_skipped")
                continue
            listing = {"list_title": first_text(row, self.board.list.title),
                       "list_date": first_text(row, self.board.list.date),
                       "list_department": first_text(row, self.board.list.department)}
            yield scrapy.Request(url, callback=self.parse_detail, cb_kwargs={"listing": listing},
                                 errback=self.detail_failed)
        next_href = select(response, self.board.list.next_page).get() if self.board.list.next_page else None
        if next_href and page < self.board.max_pages:
            url = response.urljoin(next_href.strip())
            if self.board.allows(url):
                yield scrapy.Request(url, callback=self.parse_list, cb_kwargs={"page": page + 1})

    def start_failed_status(self, response: Response, page: int) -> None:
        if page == 1:
            self.crawler.stats.set_value("aegis/start_failure", f"HTTP {response.status}")

    def detail_failed(self, failure: Failure) -> None:
        if failure.check(IgnoreRequest):  # robots.txt forbids it: skipped on purpose, not a failure
            self.crawler.stats.inc_value("aegis/robots_skipped")
        else:
            self.crawler.stats.inc_value("aegis/detail_failures")

    def parse_detail(self, response: Response, listing: dict[str, str | None]) -> Iterator[dict[str, Any]]:
        detail = self.board.detail
        body = select(response, detail.body)
        attachments = []
        for anchor in select(response, detail.attachments):
            href = anchor.attrib.get("href")
            if href:
                attachments.append({"name": first_text(anchor, detail.attachment_name) or href.rsplit("/", 1)[-1],
                                    "url": response.urljoin(href.strip())})
        yield {
            "url": response.url,
            "source_id": self.board.source_id(response.url),
            **listing,
            "title": first_text(response, detail.title),
            "date": first_text(response, detail.date),
            "department": first_text(response, detail.department),
            "application_period": first_text(response, detail.application_period),
            "contact": first_text(response, detail.contact),
            "body_html": body[0].get() if body else None,
            "attachments": attachments,
        }
