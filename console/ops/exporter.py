"""The pipeline exporter: Prometheus gauges read from PostgreSQL, for what no single process owns.

* ``policies_total{status}`` — policies by status;
* ``data_quality_score{source}`` — mean quality score of the active policies of each source (seed §6.4);
* ``replication_slot_lag_bytes{slot}`` — WAL written since Debezium's last confirmed position;
* ``reconcile_last_pass_timestamp_seconds`` — when the last stored reconcile pass ran (the reconciler
  itself serves the rest: reconciler/metrics.py).

`aegis run` serves it beside the processes it supervises; `aegis exporter` serves it alone (compose).
"""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from aegis.db import connect
from aegis.errors import AegisError
from aegis.settings import Settings

log = logging.getLogger(__name__)


class PipelineExporter:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.registry = CollectorRegistry()
        r = self.registry
        self.policies = Gauge("policies_total", "Policies in PostgreSQL by status", ["status"], registry=r)
        self.quality = Gauge("data_quality_score", "Mean quality score of the active policies", ["source"], registry=r)
        self.slot_lag = Gauge("replication_slot_lag_bytes", "WAL not yet confirmed by Debezium", ["slot"], registry=r)
        self.last_pass = Gauge("reconcile_last_pass_timestamp_seconds", "When the last reconcile pass finished",
                               registry=r)

    def refresh(self) -> None:
        """Read the current values; a database that does not answer leaves the last values in place."""
        try:
            with connect(self.settings.postgres, autocommit=True) as conn:
                self._read(conn)
        except AegisError as exc:
            log.warning("exporter refresh failed: %s", exc.message)

    def _read(self, conn) -> None:
        self.policies.clear()
        for status, count in conn.execute("SELECT status, count(*) FROM policies GROUP BY status"):
            self.policies.labels(status).set(count)
        self.quality.clear()
        for source, score in conn.execute(
                "SELECT source_system, avg(quality_score) FROM policies "
                "WHERE status = 'active' AND quality_score IS NOT NULL GROUP BY source_system"):
            self.quality.labels(source).set(score)
        self.slot_lag.clear()
        for slot, lag in conn.execute(
                "SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) "
                "FROM pg_replication_slots WHERE slot_name = %s", (self.settings.postgres.slot_name,)):
            if lag is not None:
                self.slot_lag.labels(slot).set(float(lag))
        row = conn.execute("SELECT extract(epoch FROM checked_at) FROM consistency_reports "
                           "WHERE NOT dry_run ORDER BY checked_at DESC LIMIT 1").fetchone()
        if row:
            self.last_pass.set(float(row[0]))

    def serve(self, port: int, host: str = "127.0.0.1", every: float = 15.0) -> threading.Event:
        """Serve /metrics on ``port`` and refresh every ``every`` seconds until the returned event is set."""
        start_http_server(port, addr=host, registry=self.registry)
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.refresh()
                stop.wait(every)

        threading.Thread(target=loop, name="pipeline-exporter", daemon=True).start()
        return stop
