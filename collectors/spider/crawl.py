"""Run one board crawl in this process and write its items and stats as files.

``python -m collectors.spider.crawl --board-json JSON --items ITEMS.jsonl --stats STATS.json
[--delay S] [--timeout S] [--retries N] [--max-bytes N]``

Collectors start this in a subprocess (``runner.crawl_board``), so every crawl gets a fresh
Twisted reactor: crawls can run again and again from one long-lived process and from tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from collectors.identity import USER_AGENT
from collectors.spider.board_spider import BoardSpider


def crawler_settings(items: Path, *, delay: float, timeout: float, retries: int, max_bytes: int) -> dict:
    """Polite, bounded Scrapy settings for one board."""
    return {
        "BOT_NAME": "aegis",
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "DOWNLOAD_TIMEOUT": timeout,
        "DOWNLOAD_MAXSIZE": max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": retries,
        "REDIRECT_MAX_TIMES": 3,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "FEEDS": {str(items): {"format": "jsonlines", "encoding": "utf8", "overwrite": True}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--board-json", required=True)
    parser.add_argument("--items", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--max-bytes", type=int, default=20_000_000)
    args = parser.parse_args(argv)

    process = CrawlerProcess(crawler_settings(args.items, delay=args.delay, timeout=args.timeout,
                                              retries=args.retries, max_bytes=args.max_bytes))
    crawler = process.create_crawler(BoardSpider)
    process.crawl(crawler, board_json=args.board_json)
    process.start()
    stats = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in crawler.stats.get_stats().items()}
    args.stats.write_text(json.dumps(stats, ensure_ascii=False, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
