"""Prometheus metrics of collection (seed §6.4 names, plus each source's state for alerting)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

COLLECTION_STATUSES = ("success", "failure")

data_collection_total = Counter("data_collection_total", "Total data collection attempts", ["source", "status"])
data_collection_latency = Histogram("data_collection_latency_seconds", "Data collection latency", ["source"],
                                    buckets=[1, 5, 10, 30, 60, 120])
collected_records_total = Counter("collected_records_total", "Records seen by collectors, by outcome",
                                  ["source", "outcome"])
pipeline_processing_total = Counter("pipeline_processing_total", "Total pipeline processing", ["path", "status"])
pipeline_processing_latency = Histogram("pipeline_processing_latency_seconds", "Pipeline processing latency",
                                        ["path"], buckets=[0.1, 0.5, 1.0, 2.0, 5.0, 10.0])
source_failing = Gauge("collector_source_failing", "1 when the last attempt at the source failed (quota aside)",
                       ["source"])
source_quota_exhausted = Gauge("collector_source_quota_exhausted",
                               "1 while the source's call quota is used up (it waits for its next window)", ["source"])
source_last_success = Gauge("collector_source_last_success_timestamp_seconds",
                            "When the source was last collected without an error", ["source"])


def init_sources(names: Iterable[str]) -> None:
    """Every series an alert selects, at 0, for each source the scheduler will collect."""
    for source in names:
        for status in COLLECTION_STATUSES:
            data_collection_total.labels(source, status)
        source_failing.labels(source).set(0)
        source_quota_exhausted.labels(source).set(0)


def record_attempt(source: str, *, ok: bool, seconds: float | None = None, quota_exhausted: bool = False) -> None:
    """One attempt at ``source``: counted, timed, and its failing / quota state set."""
    data_collection_total.labels(source, COLLECTION_STATUSES[0] if ok else COLLECTION_STATUSES[1]).inc()
    if seconds is not None:
        data_collection_latency.labels(source).observe(seconds)
    source_failing.labels(source).set(0 if ok or quota_exhausted else 1)
    source_quota_exhausted.labels(source).set(1 if quota_exhausted else 0)
    if ok:
        source_last_success.labels(source).set_to_current_time()
