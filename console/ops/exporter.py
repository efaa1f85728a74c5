"""The pipeline exporter: Prometheus gauges for what no single process owns, seen from outside.

From PostgreSQL:

* ``policies_total{status}`` — policies by status;
* ``data_quality_score{source}`` — mean quality score of the active policies of each source (seed §6.4);
* ``replication_slot_lag_bytes{slot}`` — WAL written since Debezium's last confirmed position;
* ``replication_slot_retained_wal_bytes{slot}`` — WAL the slot keeps on disk (since its restart LSN);
* ``replication_slot_active{slot}`` — 1 while a client (Debezium) reads the slot;
* ``reconcile_last_pass_timestamp_seconds`` — when the last stored reconcile pass ran (the reconciler
  itself serves the rest: reconciler/metrics.py).

From Kafka, per sink (its consumer group on the change topic), whether its process runs or not:

* ``sink_group_lag_events{target_db}`` — change events after the group's committed offsets;
* ``sink_group_partition_lag_events{target_db,partition}`` — the same, per partition;
* ``sink_group_committed_offset{target_db}`` — the committed offsets, summed over partitions (a
  sink that applies nothing leaves it flat while the lag grows);
* ``sink_group_members{target_db}`` — the consumers in the group (``SINKS_MEMBERS`` when all run).

From each target, pinged through its sink's client, with or without traffic:

* ``target_up{target_db}`` — 1 when the target answered the last ping.

Each source is read on its own: one that does not answer leaves its own gauges as they were (a
target's ``target_up`` becomes 0). `aegis run` serves it beside the processes it supervises;
`aegis exporter` serves it alone (compose).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from aegis.db import connect
from aegis.errors import AegisError
from aegis.health_server import publish_service_info
from aegis.settings import Settings

log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 5.0


class PipelineExporter:
    def __init__(self, settings: Settings, sinks: list[str] | None = None):
        from cdc_sinks.registry import sink_names

        self.settings = settings
        self.sinks = sinks if sinks is not None else sink_names()
        self.registry = CollectorRegistry()
        publish_service_info(self.registry, settings.service)
        r = self.registry
        self.policies = Gauge("policies_total", "Policies in PostgreSQL by status", ["status"], registry=r)
        self.quality = Gauge("data_quality_score", "Mean quality score of the active policies", ["source"], registry=r)
        self.slot_lag = Gauge("replication_slot_lag_bytes", "WAL not yet confirmed by Debezium", ["slot"], registry=r)
        self.slot_retained = Gauge("replication_slot_retained_wal_bytes", "WAL the replication slot keeps on disk",
                                   ["slot"], registry=r)
        self.slot_active = Gauge("replication_slot_active", "1 while a client reads the replication slot",
                                 ["slot"], registry=r)
        self.last_pass = Gauge("reconcile_last_pass_timestamp_seconds", "When the last reconcile pass finished",
                               registry=r)
        self.group_lag = Gauge("sink_group_lag_events", "Change events after the sink group's committed offsets",
                               ["target_db"], registry=r)
        self.group_committed = Gauge("sink_group_committed_offset", "The sink group's committed offsets, summed",
                                     ["target_db"], registry=r)
        self.partition_lag = Gauge("sink_group_partition_lag_events", "Change events after the sink group's "
                                   "committed offset, per partition", ["target_db", "partition"], registry=r)
        self.group_members = Gauge("sink_group_members", "Consumers in the sink's group (its running members)",
                                   ["target_db"], registry=r)
        self.target_up = Gauge("target_up", "1 when the target answered the exporter's last ping",
                               ["target_db"], registry=r)
        self._targets: dict[str, object] = {}
        self._pings = ThreadPoolExecutor(max_workers=max(1, len(self.sinks)), thread_name_prefix="target-ping")

    def refresh(self) -> None:
        """Read the current values; each source that does not answer leaves its last values in place."""
        try:
            with connect(self.settings.postgres, autocommit=True, role="reader") as conn:
                self._read(conn)
        except AegisError as exc:
            log.warning("exporter: PostgreSQL refresh failed: %s", exc.message)
        try:
            self._read_groups()
        except Exception as exc:  # noqa: BLE001 - Kafka down: the other gauges still refresh
            log.warning("exporter: Kafka refresh failed: %s", exc)
        self._ping_targets()

    def _read(self, conn) -> None:
        self.policies.clear()
        for status, count in conn.execute("SELECT status, count(*) FROM policies GROUP BY status"):
            self.policies.labels(status).set(count)
        self.quality.clear()
        for source, score in conn.execute(
                "SELECT source_system, avg(quality_score) FROM policies "
                "WHERE status = 'active' AND quality_score IS NOT NULL GROUP BY source_system"):
            self.quality.labels(source).set(score)
        for gauge in (self.slot_lag, self.slot_retained, self.slot_active):
            gauge.clear()
        for slot, lag, retained, active in conn.execute(
                "SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), active "
                "FROM pg_replication_slots WHERE slot_name = %s", (self.settings.postgres.slot_name,)):
            if lag is not None:
                self.slot_lag.labels(slot).set(float(lag))
            if retained is not None:
                self.slot_retained.labels(slot).set(float(retained))
            self.slot_active.labels(slot).set(1 if active else 0)
        row = conn.execute("SELECT extract(epoch FROM checked_at) FROM consistency_reports "
                           "WHERE NOT dry_run ORDER BY checked_at DESC LIMIT 1").fetchone()
        if row:
            self.last_pass.set(float(row[0]))

    def _read_groups(self) -> None:
        from aegis.changestream.groups import group_lag, group_members

        kafka, topic = self.settings.kafka, self.settings.sinks.topic(self.settings.kafka)
        for name in self.sinks:
            group = f"{self.settings.sinks.group_id_prefix}{name}"
            lags = group_lag(kafka, group, topic, timeout=5)
            if not lags:
                return  # no change captured yet: no lag to speak of
            for lag in lags:
                self.partition_lag.labels(name, str(lag.partition)).set(lag.behind)
            self.group_lag.labels(name).set(sum(lag.behind for lag in lags))
            self.group_committed.labels(name).set(sum(max(lag.committed, 0) for lag in lags))
            _state, members = group_members(kafka, group, topic, timeout=5)
            self.group_members.labels(name).set(len(members))

    def _target(self, name: str):
        from cdc_sinks.registry import build_sink

        if name not in self._targets:
            self._targets[name] = build_sink(name, self.settings)
        return self._targets[name]

    def _ping(self, name: str) -> bool:
        try:
            return bool(self._target(name).ping())
        except Exception as exc:  # noqa: BLE001 - whatever the client raises, the target did not answer
            log.debug("exporter: ping of %s failed: %s", name, exc)
            return False

    def _ping_targets(self) -> None:
        futures = {name: self._pings.submit(self._ping, name) for name in self.sinks}
        for name, future in futures.items():
            try:
                up = future.result(timeout=PING_TIMEOUT_SECONDS)
            except FutureTimeout:
                up = False
            self.target_up.labels(name).set(1 if up else 0)

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
