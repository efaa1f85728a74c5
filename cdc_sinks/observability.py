"""Prometheus metrics (seed §6.4 names) and the ``/metrics``, ``/health``, ``/health/ready`` server.

Each runtime owns its own ``CollectorRegistry``, so several sinks can run in one process (tests)
without clashing. Label ``target_db`` is the sink name; ``path`` is ``cdc-<sink name>``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aegis.health_server import HealthServer

SYNC_STATUSES = ("success", "failed")  # db_sync_total{status}
PROCESSING_STATUSES = ("applied", "dead_letter", "superseded")  # pipeline_processing_total{status}
_WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class SinkMetrics:
    """The metrics one sink runtime updates."""

    def __init__(self, sink: str, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.target = sink
        self.path = f"cdc-{sink}"
        r = self.registry
        self.sync_total = Counter("db_sync_total", "Records synced to a target, by outcome",
                                  ["target_db", "status"], registry=r)
        self.sync_latency = Histogram("db_sync_latency_seconds", "Time to write one micro-batch to the target",
                                      ["target_db"], buckets=_WRITE_BUCKETS, registry=r)
        self.processing_total = Counter("pipeline_processing_total", "Change events processed",
                                        ["path", "status"], registry=r)
        self.processing_latency = Histogram("pipeline_processing_latency_seconds",
                                            "PostgreSQL commit to applied in the target, per change event",
                                            ["path"], buckets=_LATENCY_BUCKETS, registry=r)
        self.lag_seconds = Gauge("pipeline_lag_seconds", "Age of the oldest change not yet applied (0 when caught up)",
                                 ["path"], registry=r)
        self.lag_events = Gauge("sink_consumer_lag_events", "Change events on the topic not yet applied",
                                ["target_db"], registry=r)
        self.dead_letters = Counter("sink_dead_letters_total", "Messages sent to the dead-letter topic",
                                    ["target_db", "error_code"], registry=r)
        self.paused = Gauge("sink_paused",
                            "1 while the target (or the schema registry) is unreachable and consumption is paused",
                            ["target_db"], registry=r)
        self.last_lsn = Gauge("sink_last_applied_lsn", "Highest source LSN applied by the last batch",
                              ["target_db"], registry=r)
        self.transient_errors = Counter("sink_transient_errors_total", "Batch writes that failed transiently",
                                        ["target_db"], registry=r)
        # every series an alert selects exists from the start (0), so rate() and increase() see its first change
        for status in SYNC_STATUSES:
            self.sync_total.labels(sink, status)
        for status in PROCESSING_STATUSES:
            self.processing_total.labels(self.path, status)
        self.paused.labels(sink).set(0)
        self.transient_errors.labels(sink)
        # the series every batch updates, looked up once (a label lookup costs more than the update)
        self._synced = self.sync_total.labels(sink, SYNC_STATUSES[0])
        self._sync_failed = self.sync_total.labels(sink, SYNC_STATUSES[1])
        self._applied = self.processing_total.labels(self.path, "applied")
        self._dead_lettered = self.processing_total.labels(self.path, "dead_letter")
        self._superseded = self.processing_total.labels(self.path, "superseded")
        self._write_seconds = self.sync_latency.labels(sink)
        self._commit_to_applied = self.processing_latency.labels(self.path)

    def batch_written(self, *, upserted: int, removed: int, dead: int, superseded: int, seconds: float,
                      commit_ages: list[float], max_lsn: int | None) -> None:
        if upserted + removed:
            self._synced.inc(upserted + removed)
        if dead:
            self._sync_failed.inc(dead)
            self._dead_lettered.inc(dead)
        self._applied.inc(upserted + removed)
        if superseded:
            self._superseded.inc(superseded)
        self._write_seconds.observe(seconds)
        for age in commit_ages:
            self._commit_to_applied.observe(max(age, 0.0))
        if max_lsn is not None:
            self.last_lsn.labels(self.target).set(max_lsn)  # absent until a first batch

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class HealthState:
    """What ``/health/ready`` answers from: ready only while consuming and the target answers."""

    started_at: float = field(default_factory=time.time)
    alive: bool = True
    assigned_partitions: int = 0
    paused: bool = False
    target_ok: bool = False
    last_batch_at: float | None = None
    detail: str = "starting"

    @property
    def ready(self) -> bool:
        return self.alive and self.assigned_partitions > 0 and not self.paused and self.target_ok

    def to_dict(self) -> dict:
        return {"ready": self.ready, "alive": self.alive, "assigned_partitions": self.assigned_partitions,
                "paused": self.paused, "target_ok": self.target_ok, "last_batch_at": self.last_batch_at,
                "detail": self.detail}


class ObservabilityServer(HealthServer):
    """The sink process's ``/metrics`` and health endpoints (``aegis.health_server``)."""

    def __init__(self, metrics: SinkMetrics, health: HealthState, host: str, port: int):
        super().__init__(host, port, metrics=metrics.render, metrics_content_type=CONTENT_TYPE_LATEST,
                         alive=lambda: health.alive, readiness=health.to_dict, thread_name="sink-observability")
