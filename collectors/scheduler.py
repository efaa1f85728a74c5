"""The collection schedule (seed §4.1.2), with the ``schedule`` library:

* API sources every ``COLLECTION_INTERVAL_HOURS`` (6);
* web boards daily at 00:00 KST (or every ``SCRAPING_INTERVAL_HOURS`` when that is not 24).

One ``Collector`` lives for the whole run, so circuit breakers and quota windows carry over
from pass to pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import schedule

from aegis.settings import Settings
from collectors.runner import Collector, PassResult
from collectors.sources.base import SourceKind

log = logging.getLogger(__name__)
KST_ZONE = "Asia/Seoul"


class CollectionScheduler:
    def __init__(self, settings: Settings, collector: Collector,
                 on_result: Callable[[SourceKind, PassResult], None] = lambda kind, result: None,
                 scheduler: schedule.Scheduler | None = None, names: list[str] | None = None):
        self.settings = settings
        self.names = names or None  # only these sources (None: all)
        self.collector = collector
        self.on_result = on_result
        self.scheduler = scheduler or schedule.Scheduler()
        self._lock = threading.Lock()  # one pass at a time: a long pass delays the next, never overlaps

    def install(self) -> list[schedule.Job]:
        """Register the two jobs and return them."""
        api = self.scheduler.every(self.settings.collection.collection_interval_hours).hours.do(
            self.run_pass, SourceKind.API).tag("api")
        hours = self.settings.collection.scraping_interval_hours
        if hours == 24:
            boards = self.scheduler.every().day.at("00:00", KST_ZONE).do(self.run_pass, SourceKind.BOARD)
        else:
            boards = self.scheduler.every(hours).hours.do(self.run_pass, SourceKind.BOARD)
        return [api, boards.tag("boards")]

    def run_pass(self, kind: SourceKind) -> PassResult | None:
        with self._lock:
            log.info("scheduled collection started", extra={"kind": kind.value})
            try:
                result = self.collector.run_once(self.names, kinds={kind})
            except Exception:  # the scheduler must outlive one bad pass
                log.exception("scheduled collection failed", extra={"kind": kind.value})
                return None
            log.info("scheduled collection finished", extra={
                "kind": kind.value, "run_id": result.run_id, "seconds": round(result.seconds, 1),
                "failed_sources": [s.source for s in result.summaries if s.error]})
            self.on_result(kind, result)
            return result

    def run(self, stop: threading.Event, *, run_now: bool = True, poll_seconds: float = 1.0) -> None:
        """Run until ``stop`` is set; with ``run_now`` the API sources are collected at once."""
        if not self.scheduler.get_jobs():
            self.install()
        if run_now:
            self.run_pass(SourceKind.API)
        while not stop.is_set():
            self.scheduler.run_pending()
            stop.wait(min(poll_seconds, max(0.0, self.scheduler.idle_seconds or poll_seconds)))
