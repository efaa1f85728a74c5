"""One collection pass: every selected source, concurrently (at most MAX_CONCURRENT_COLLECTIONS),
each page mapped and stored in its own transaction. A failing source is logged with its
DP code and skipped; the others carry on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from pydantic import BaseModel

from aegis.db import connect
from aegis.errors import AegisError, ErrorCode
from aegis.settings import Settings
from collectors import metrics
from collectors.http.breaker import CircuitOpenError
from collectors.http.quota import QuotaExceededError
from collectors.models import SourceError, SourceSummary
from collectors.sources.base import Source, SourceKind
from collectors.sources.registry import CollectorState, build_sources, samples_refused, samples_refused_error
from collectors.store import record_pass, store_page

log = logging.getLogger(__name__)


class PageProgress(BaseModel):
    source: str
    page: int
    fetched: int
    total: int | None


class PassResult(BaseModel):
    run_id: str
    summaries: list[SourceSummary]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.summaries)


Progress = Callable[[PageProgress], None]


class Collector:
    """Runs collection passes; keep one instance alive to keep breakers and quota windows."""

    def __init__(self, settings: Settings, state: CollectorState | None = None,
                 transport: httpx.BaseTransport | None = None, *, allow_samples: bool = False):
        self.settings = settings
        self.state = state or CollectorState.from_settings(settings)
        self.transport = transport
        self.refuse_samples = samples_refused(settings, allow_samples)

    def run_once(self, names: list[str] | None = None, kinds: set[SourceKind] | None = None,
                 progress: Progress = lambda _: None) -> PassResult:
        run_id = f"collect-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        started_at, started = datetime.now(UTC), time.monotonic()
        sources = [s for s in build_sources(self.settings, self.state, names, self.transport)
                   if kinds is None or s.kind in kinds]
        workers = max(1, min(self.settings.collection.max_concurrent_collections, len(sources) or 1))
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
                summaries = list(pool.map(lambda s: self._collect(s, run_id, progress), sources))
        finally:
            for source in sources:
                source.close()
        result = PassResult(run_id=run_id, summaries=summaries, seconds=time.monotonic() - started)
        self._record(result, started_at)
        return result

    def _collect(self, source: Source, run_id: str, progress: Progress) -> SourceSummary:
        summary = SourceSummary(source=source.name, using_samples=source.using_samples)
        started = time.monotonic()
        if source.using_samples and self.refuse_samples:
            refused = samples_refused_error(source)
            summary.skipped, summary.error = refused.message, _error(refused)
            log.error("source refused: sample data in production", extra={
                "source": source.name, "code": refused.code.value, "error": refused.message, "hint": refused.hint})
            return summary
        blocked = self.state.quota.blocked_until(source.name)
        if blocked is not None:
            summary.skipped = f"quota used up; next window {blocked.isoformat()}"
            summary.error = SourceError(code=ErrorCode.API_RATE_LIMIT_EXCEEDED.value, message=summary.skipped)
            log.warning("source skipped: quota window", extra={"source": source.name, "until": blocked.isoformat()})
            metrics.record_attempt(source.name, ok=False, quota_exhausted=True)
            return summary
        quota_exhausted = False
        try:
            with connect(self.settings.postgres, autocommit=True) as conn:
                for page in source.pages():
                    page_started = time.monotonic()
                    mapped = source.map_page(page)
                    outcome = store_page(conn, source.name, mapped, run_id=run_id, started=page_started,
                                         request_url=_request_url(source, page))
                    summary.pages += 1
                    summary.fetched += len(page.items)
                    summary.add(outcome)
                    self._count(source.name, outcome, time.monotonic() - page_started)
                    log.info("page stored", extra={
                        "source": source.name, "run_id": run_id, "page": page.number, "fetched": len(page.items),
                        "new": outcome.new, "changed": outcome.changed, "unchanged": outcome.unchanged,
                        "rejected": outcome.rejected, "ms": round((time.monotonic() - page_started) * 1000, 1)})
                    for rejection in mapped.rejections:
                        log.warning("record rejected", extra={"source": source.name, "source_id": rejection.source_id,
                                                              "code": rejection.error_code, "reason": rejection.reason})
                    progress(PageProgress(source=source.name, page=page.number, fetched=summary.fetched,
                                          total=page.total))
        except QuotaExceededError as exc:
            quota_exhausted = True
            until = self.state.quota.block(source.name)
            summary.error = _error(exc)
            log.error("source quota used up; left alone until the next window", extra={
                "source": source.name, "code": exc.code.value, "error": exc.message, "until": until.isoformat()})
        except CircuitOpenError as exc:
            summary.skipped = exc.message
            summary.error = _error(exc)
            log.error("source skipped: circuit open", extra={"source": source.name, "code": exc.code.value,
                                                             "error": exc.message})
        except AegisError as exc:
            summary.error = _error(exc)
            log.error("source failed", extra={"source": source.name, "code": exc.code.value, "error": exc.message,
                                              "hint": exc.hint, "pages_stored": summary.pages})
        except Exception as exc:  # one broken source must not stop the others
            summary.error = SourceError(code=ErrorCode.BATCH_PROCESSING_ERROR.value,
                                        message=f"{source.name}: unexpected {type(exc).__name__}: {exc}",
                                        hint="this is a bug in the collector; the log has the traceback")
            log.exception("source failed unexpectedly", extra={"source": source.name,
                                                               "code": ErrorCode.BATCH_PROCESSING_ERROR.value})
        summary.seconds = round(time.monotonic() - started, 3)
        metrics.record_attempt(source.name, ok=summary.error is None, seconds=summary.seconds,
                               quota_exhausted=quota_exhausted)
        return summary

    @staticmethod
    def _count(source: str, outcome, seconds: float) -> None:
        for name in ("new", "changed", "unchanged", "rejected"):
            if value := getattr(outcome, name):
                metrics.collected_records_total.labels(source, name).inc(value)
        processed = outcome.new + outcome.changed + outcome.unchanged
        metrics.pipeline_processing_total.labels("hot", "success").inc(processed)
        metrics.pipeline_processing_latency.labels("hot").observe(seconds)

    def _record(self, result: PassResult, started_at: datetime) -> None:
        try:
            with connect(self.settings.postgres, autocommit=True) as conn:
                record_pass(conn, result.run_id, result.summaries, started_at)
        except AegisError as exc:
            log.error("could not record the pass in pipeline_metadata", extra={"code": exc.code.value,
                                                                               "error": exc.message})


def _request_url(source: Source, page) -> str | None:
    """The page's request URL when the source says it, else the source's endpoint (lineage)."""
    if page.request_url:
        return page.request_url
    endpoint = getattr(source, "endpoint", None)
    return getattr(endpoint, "base_url", None)


def _error(exc: AegisError) -> SourceError:
    return SourceError(code=exc.code.value, message=exc.message, hint=exc.hint)
