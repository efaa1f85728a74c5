"""Everything `aegis status` shows, gathered into one typed model.

Per sink: consumer lag in events (committed offsets of its group against the topic's end), per
partition and in all, and in seconds (age of the oldest unapplied change); the group's members and
the partitions each holds (Kafka's group coordinator); last applied LSN and state (from each of the
sink's processes' /metrics and /health/ready). Dead letters retained on the dead-letter topic, counted from its
watermarks (none is read). Per target: record count next to PostgreSQL's active
count. The replication slot's lag, the last reconcile, and policies by status and source.
``attention`` lists what needs a person; the CLI exits non-zero when it is not empty.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx
from confluent_kafka import KafkaException, TopicPartition
from pydantic import BaseModel, Field

from aegis.changestream.groups import PartitionLag, group_lag, group_members, reader
from aegis.db import connect
from aegis.errors import AegisError
from aegis.settings import Settings
from cdc_sinks.milvus.inventory import CollectionModel

SLOT_LAG_ATTENTION_BYTES = 256 * 1024 * 1024


class MemberStatus(BaseModel):
    """One consumer of a sink's group: which partitions of the change topic it holds."""

    client_id: str
    host: str
    partitions: list[int]


class PartitionStatus(BaseModel):
    partition: int
    committed: int  # -1: the group never committed on this partition
    end: int
    lag_events: int


class SinkStatus(BaseModel):
    name: str
    state: str  # running | paused: target down | waiting: no partitions | failing | stopped
    processes: int = 0  # of the main job's members of this sink, those that answer on their metrics port
    group_state: str | None = None  # the consumer group as Kafka's coordinator sees it (stable, empty, ...)
    members: list[MemberStatus] = Field(default_factory=list)
    partitions: list[PartitionStatus] = Field(default_factory=list)
    lag_events: int | None = None
    lag_seconds: float | None = None
    last_applied_lsn: int | None = None
    target_count: int | None = None
    target_error: str | None = None


class ReconcileSummary(BaseModel):
    checked_at: datetime
    dry_run: bool
    is_consistent: bool
    summary: dict

    def brief(self) -> str:
        """``consistent (promoted 200, …; repaired 0); verified: search 200 by checksum, 9 field by field; …``.

        "Verified" counts only what the pass read and found equal to PostgreSQL: a target that was
        lagging, drifted or not reachable is named with its state instead.
        """
        counts = ", ".join(f"{key} {self.summary[key]}" for key in ("promoted", "rejected", "archived", "duplicates")
                           if key in self.summary)
        targets = self.summary.get("targets", {})
        repaired = sum((target or {}).get("repaired", 0) for target in targets.values())
        parts = []
        for name, target in sorted(targets.items()):
            state = (target or {}).get("status", "?")
            if state in ("consistent", "repaired"):
                parts.append(f"{name} {target.get('target_count', 0):,} by checksum, "
                             f"{target.get('deep_checked', 0):,} field by field")
            elif state == "lagging":
                parts.append(f"{name} lagging ({target.get('in_flight', 0)} in flight, not verified)")
            else:
                parts.append(f"{name} {state} (not verified)")
        verdict = ("dry run" if self.dry_run else "consistent") if self.is_consistent else "drift found"
        return (f"{verdict} ({counts}; repaired {repaired})" + (f"; verified: {'; '.join(parts)}" if parts else ""))


class PipelineStatus(BaseModel):
    sinks: list[SinkStatus]
    postgres_active: int | None = None
    policies_by_status: dict[str, int] = Field(default_factory=dict)
    policies_by_source: dict[str, dict[str, int]] = Field(default_factory=dict)
    dead_letters: int | None = None  # retained on KAFKA_TOPIC_DLQ (watermarks; none is read)
    connector_state: str | None = None
    slot_lag_bytes: int | None = None
    last_reconcile: ReconcileSummary | None = None
    embedding_models: list[CollectionModel] = Field(default_factory=list)
    attention: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # worth knowing, but nothing is broken: exit 0


def _metrics(url: str) -> dict[str, float]:
    """Unlabelled view of a Prometheus text page: metric name -> value (last sample wins)."""
    values: dict[str, float] = {}
    for line in httpx.get(url, timeout=2).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name.split("{")[0]] = float(value)
            except ValueError:
                continue
    return values


def _process_state(settings: Settings, port: int) -> tuple[str, int | None]:
    base = f"http://{settings.service.metrics_host}:{port}"
    try:
        ready = httpx.get(f"{base}/health/ready", timeout=2)
        metrics = _metrics(f"{base}/metrics")
    except httpx.HTTPError:
        return "stopped", None
    lsn = int(metrics["sink_last_applied_lsn"]) if metrics.get("sink_last_applied_lsn") else None
    if metrics.get("sink_paused", 0) >= 1:
        return "paused: target down", lsn
    if ready.status_code == 200:
        return "running", lsn
    try:
        health = ready.json()
    except ValueError:
        health = {}
    if health.get("target_ok") and health.get("assigned_partitions") == 0:
        # Consuming nothing yet: the change topic has no partitions until the first change is captured.
        return "waiting: no partitions", lsn
    return "failing", lsn


def _sink_state(states: list[str]) -> str:
    """One state for a sink's processes: the first of these any of them is in (the worst that acts)."""
    for state in ("paused: target down", "failing", "running", "waiting: no partitions"):
        if state in states:
            return state
    return "stopped"


def consumer_lag(settings: Settings, group_id: str, topic: str) -> tuple[int, float]:
    """(events behind, age in seconds of the oldest unapplied event) for ``group_id`` on ``topic``."""
    lags = group_lag(settings.kafka, group_id, topic, timeout=5)
    return sum(lag.behind for lag in lags), oldest_unapplied_age(settings, topic, lags)


def oldest_unapplied_age(settings: Settings, topic: str, lags: list[PartitionLag]) -> float:
    """Seconds since the oldest event not yet applied was produced (0 when nothing is behind)."""
    behind = [lag for lag in lags if lag.behind]
    if not behind:
        return 0.0
    consumer = reader(settings.kafka, "status")
    oldest_ms = None
    try:
        for lag in behind:
            consumer.assign([TopicPartition(topic, lag.partition, lag.position)])
            msg = consumer.poll(5)
            if msg is not None and msg.error() is None:
                ts = msg.timestamp()[1]
                oldest_ms = ts if oldest_ms is None else min(oldest_ms, ts)
    finally:
        consumer.close()
    return 0.0 if oldest_ms is None else max(time.time() - oldest_ms / 1000, 0.0)


def _group_part(settings: Settings, name: str, topic: str, sink: SinkStatus, status: PipelineStatus) -> None:
    """The sink's consumer group: lag per partition, age of the oldest unapplied event, members."""
    group = f"{settings.sinks.group_id_prefix}{name}"
    try:
        lags = group_lag(settings.kafka, group, topic, timeout=5)
        sink.partitions = [PartitionStatus(partition=lag.partition, committed=lag.committed, end=lag.high,
                                           lag_events=lag.behind) for lag in lags]
        sink.lag_events = sum(lag.behind for lag in lags)
        sink.lag_seconds = oldest_unapplied_age(settings, topic, lags)
        sink.group_state, members = group_members(settings.kafka, group, topic, timeout=5)
        sink.members = [MemberStatus(client_id=m.client_id, host=m.host, partitions=list(m.partitions))
                        for m in members]
    except (AegisError, KafkaException, KeyError) as exc:
        status.attention.append(f"sink {name}: consumer group unknown ({getattr(exc, 'message', exc)})")


def gather(settings: Settings, sinks: list[str]) -> PipelineStatus:
    from console.ops.ports import sink_metrics_ports

    status = PipelineStatus(sinks=[])
    _postgres_part(settings, status)
    _connector_part(settings, status)
    _dead_letter_part(settings, status)
    topic = settings.sinks.topic(settings.kafka)
    for name in sinks:
        states = [_process_state(settings, port) for port in sink_metrics_ports(settings, name, sinks)]
        lsns = [lsn for _, lsn in states if lsn is not None]
        sink = SinkStatus(name=name, state=_sink_state([state for state, _ in states]),
                          processes=sum(state != "stopped" for state, _ in states),
                          last_applied_lsn=max(lsns) if lsns else None)
        _group_part(settings, name, topic, sink, status)
        _target_count(settings, name, sink)
        status.sinks.append(sink)
        _sink_attention(status, sink)
    if "milvus" in sinks:
        _embedding_part(settings, status)
    return status


def _embedding_part(settings: Settings, status: PipelineStatus) -> None:
    """Which model built each Milvus collection; a warning when an English-only one embeds Korean text."""
    from cdc_sinks.milvus.inventory import collection_models

    try:
        status.embedding_models = collection_models(settings.milvus)
    except AegisError as exc:
        status.attention.append(f"milvus collections unknown: {exc.message}")
        return
    # Outside production an English-only model is expected (the only one installable on the
    # development machines, docs/deploy.md): said, but not a failed check.
    needs = status.attention if settings.service.is_production else status.warnings
    for entry in status.embedding_models:
        if entry.warning:
            needs.append(entry.warning)


def _postgres_part(settings: Settings, status: PipelineStatus) -> None:
    try:
        with connect(settings.postgres, autocommit=True, role="reader") as conn:
            for source, state, count in conn.execute(
                    "SELECT source_system, status, count(*) FROM policies GROUP BY 1, 2 ORDER BY 1, 2"):
                status.policies_by_source.setdefault(source, {})[state] = count
                status.policies_by_status[state] = status.policies_by_status.get(state, 0) + count
            status.postgres_active = status.policies_by_status.get("active", 0)
            row = conn.execute("SELECT checked_at, dry_run, is_consistent, summary FROM consistency_reports "
                               "ORDER BY checked_at DESC LIMIT 1").fetchone()
            if row:
                status.last_reconcile = ReconcileSummary(checked_at=row[0], dry_run=row[1], is_consistent=row[2],
                                                         summary=row[3])
                if not row[2] and not row[1]:
                    status.attention.append("the last reconcile pass left drift unrepaired")
    except AegisError as exc:
        status.attention.append(f"PostgreSQL: {exc.message}")


def _connector_part(settings: Settings, status: PipelineStatus) -> None:
    from connectors.manage import connector_status

    try:
        connector = connector_status(settings)
    except AegisError as exc:
        status.attention.append(f"Kafka Connect: {exc.message}")
        return
    status.connector_state = connector.state if connector.present else "absent"
    if connector.slot is not None:
        status.slot_lag_bytes = connector.slot.lag_bytes
    if not connector.running:
        status.attention.append(f"connector {connector.name} is {status.connector_state} "
                                "(run `aegis connectors status`)")
    if (status.slot_lag_bytes or 0) > SLOT_LAG_ATTENTION_BYTES:
        status.attention.append(f"replication slot holds {status.slot_lag_bytes} bytes of WAL")


def _dead_letter_part(settings: Settings, status: PipelineStatus) -> None:
    from cdc_sinks.dlq import count_dead_letters

    try:
        status.dead_letters = count_dead_letters(settings.kafka, timeout=5).total
    except AegisError as exc:
        status.attention.append(f"dead-letter topic unreadable: {exc.message}")
        return
    if status.dead_letters:
        status.attention.append(f"{status.dead_letters} dead letter(s) on {settings.kafka.topic_dlq} "
                                "(`aegis dlq list`)")


def _target_count(settings: Settings, name: str, sink: SinkStatus) -> None:
    from cdc_sinks.registry import build_sink

    try:
        target = build_sink(name, settings)
        try:
            sink.target_count = target.count()
        finally:
            target.close()
    except AegisError as exc:
        sink.target_error = exc.message
    except Exception as exc:  # noqa: BLE001 - a status view reports, it never crashes
        sink.target_error = f"{type(exc).__name__}: {exc}"


def _sink_attention(status: PipelineStatus, sink: SinkStatus) -> None:
    if sink.state != "running":
        status.attention.append(f"sink {sink.name} is {sink.state}")
    if sink.target_error:
        status.attention.append(f"target {sink.name} unreachable: {sink.target_error}")
    elif (sink.lag_events == 0 and status.postgres_active is not None
          and sink.target_count != status.postgres_active):
        status.attention.append(f"target {sink.name} holds {sink.target_count} records, "
                                f"PostgreSQL has {status.postgres_active} active (run `aegis reconcile --once`)")
