"""The collector scheduler's /metrics, /health and /health/ready (seed §13)."""

from __future__ import annotations

import threading

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aegis.health_server import HealthServer
from collectors.runner import PassResult


class CollectorHealth:
    """Ready while the last pass stored something or failed only in some sources."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_run_id: str | None = None
        self.failed_sources: list[str] = []
        self.ready = True

    def record(self, result: PassResult) -> None:
        with self._lock:
            self.last_run_id = result.run_id
            self.failed_sources = [s.source for s in result.summaries if s.error]
            self.ready = not result.summaries or len(self.failed_sources) < len(result.summaries)

    def to_dict(self) -> dict:
        with self._lock:
            return {"ready": self.ready, "last_run_id": self.last_run_id, "failed_sources": self.failed_sources}


class ObservabilityServer(HealthServer):
    """The collector scheduler's ``/metrics`` and health endpoints (``aegis.health_server``)."""

    def __init__(self, health: CollectorHealth, host: str, port: int):
        self.health = health
        super().__init__(host, port, metrics=generate_latest, metrics_content_type=CONTENT_TYPE_LATEST,
                         alive=lambda: True, readiness=health.to_dict, thread_name="collector-metrics")
