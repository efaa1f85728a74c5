"""Local-government web boards, crawled by the generic Scrapy spider (formats.md §7).

The crawl runs in a subprocess (``collectors.spider.crawl``) so each one gets a fresh Twisted
reactor. Its items come back as JSON lines and are handed on in pages of ``page_size``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from aegis.errors import ErrorCode, TerminalError, TransientError
from aegis.models.policy import PolicyRecord
from collectors.http.breaker import CircuitBreaker
from collectors.models import FetchedPage, RawItem
from collectors.parsing.contacts import find_email, find_phone
from collectors.parsing.dates import parse_kst_timestamp, parse_period
from collectors.parsing.regions import regions_from_text
from collectors.sources.base import Source, SourceKind, build_record
from collectors.sources.envelope import raw_items
from collectors.sources.fields import ItemFields, wrong_type
from collectors.spider.config import BoardConfig

log = logging.getLogger(__name__)


class CrawlPolicy(BaseModel):
    requests_per_second: float
    timeout_seconds: float
    retries: int
    max_bytes: int
    page_size: int = 100
    crawl_timeout_seconds: float = 900.0


class BoardSource(Source):
    """One board; ``name`` is ``board:<board name>``."""

    kind = SourceKind.BOARD

    def __init__(self, board: BoardConfig, policy: CrawlPolicy, breaker: CircuitBreaker):
        self.board = board
        self.policy = policy
        self.breaker = breaker
        self.name = board.source_system  # type: ignore[misc]  # per instance: one source per board

    def pages(self) -> Iterator[FetchedPage]:
        items = self.crawl()
        size = self.policy.page_size
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            yield FetchedPage(number=start // size + 1, total=len(items),
                              items=raw_items(chunk, lambda i: i.get("source_id")))

    def crawl(self) -> list[dict[str, Any]]:
        """Run the spider once; raise DP_1001/DP_1003 when the board cannot be read at all."""
        with self.breaker.guard():
            items, stats = self._run_spider()
            failure = stats.get("aegis/start_failure")
            if failure:
                self._raise_start_failure(str(failure), stats)
        if stats.get("aegis/detail_failures"):
            log.warning("some board posts could not be fetched", extra={
                "source": self.name, "code": ErrorCode.DATA_SOURCE_UNAVAILABLE.value,
                "detail_failures": stats["aegis/detail_failures"]})
        return items

    def _run_spider(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="aegis-crawl-") as tmp:
            items_path, stats_path = Path(tmp, "items.jsonl"), Path(tmp, "stats.json")
            command = [sys.executable, "-m", "collectors.spider.crawl",
                       "--board-json", self.board.model_dump_json(), "--items", str(items_path),
                       "--stats", str(stats_path), "--delay", f"{1.0 / self.policy.requests_per_second:.4f}",
                       "--timeout", str(self.policy.timeout_seconds), "--retries", str(self.policy.retries),
                       "--max-bytes", str(self.policy.max_bytes)]
            try:
                done = subprocess.run(command, capture_output=True, text=True,
                                      timeout=self.policy.crawl_timeout_seconds, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise TransientError(f"{self.name}: crawl did not finish within "
                                     f"{self.policy.crawl_timeout_seconds:.0f}s",
                                     code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                     hint="the board is slow; lower its max_pages or raise the timeout") from None
            if done.returncode != 0 or not stats_path.exists():
                last = (done.stderr or "").strip().splitlines()[-3:]
                raise TerminalError(f"{self.name}: the crawler exited with code {done.returncode}: {' | '.join(last)}",
                                    code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                                    hint="check the board's YAML selectors; run the crawl by hand with "
                                         "`python -m collectors.spider.crawl --help`")
            try:
                stats = json.loads(stats_path.read_text(encoding="utf-8"))
                items = []
                if items_path.exists():
                    for line in items_path.read_text(encoding="utf-8").splitlines():
                        if line.strip():
                            items.append(json.loads(line))
            except (OSError, ValueError, RecursionError) as exc:
                reason = f"{self.name}: the crawler's output cannot be read ({type(exc).__name__}: {exc})"
                raise TerminalError(reason[:500], code=ErrorCode.INVALID_DATA_FORMAT,
                                    hint="run the crawl by hand with `python -m collectors.spider.crawl --help`",
                                    ) from None
            if not isinstance(stats, dict):
                stats = {}
            return items, stats

    def _raise_start_failure(self, failure: str, stats: dict[str, Any]) -> None:
        where = self.board.start_url
        if "robots.txt" in failure or stats.get("robotstxt/forbidden"):
            raise TerminalError(f"{self.name}: robots.txt forbids {where}", code=ErrorCode.SCRAPING_BLOCKED,
                                hint="the site does not allow crawling this board; remove or disable it")
        if "HTTP 403" in failure or "HTTP 401" in failure:
            raise TerminalError(f"{self.name}: {where} refused the crawler ({failure})",
                                code=ErrorCode.SCRAPING_BLOCKED,
                                hint="the site blocks crawlers; ask its operator or disable the board")
        raise TransientError(f"{self.name}: list page {where} could not be read ({failure})",
                             code=ErrorCode.DATA_SOURCE_UNAVAILABLE,
                             hint="the site is down or slow; tried again next pass")

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        f = ItemFields(raw)
        period = parse_period(f.text("application_period"))
        contact = f.text("contact")
        posted = f.text("date") or f.text("list_date")
        return build_record(
            self.name, item.source_id,
            title=f.plain("title") or f.plain("list_title") or "",
            content=f.html("body_html"),
            issuing_organization=self.board.organization,
            executing_organization=f.plain("department") or f.plain("list_department"),
            target_regions=regions_from_text(self.board.region),
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=f.url("url", self.board.start_url),
            contact_phone=find_phone(contact), contact_email=find_email(contact),
            attachments=self._attachments(raw.get("attachments")),
            raw_data=dict(raw),
            source_updated_at=parse_kst_timestamp(posted),
        )

    def _attachments(self, value: Any) -> list[dict[str, str]]:
        if value is None or value == "":
            return []
        if not isinstance(value, list):
            raise wrong_type("attachments", "a list", value)
        found = []
        for entry in value:
            if not isinstance(entry, dict):
                raise wrong_type("attachments[]", "an object", entry)
            fields = ItemFields(entry)
            url = fields.url("url", self.board.start_url)
            if url:
                found.append({"name": fields.plain("name") or url.rsplit("/", 1)[-1] or url, "url": url,
                              "kind": "attachment"})
        return found
