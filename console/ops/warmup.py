"""Warming up the stack's JIT-compiled targets after they start (``aegis stack warm-up``).

A JVM server that has just started runs its request paths interpreted and compiles them (HotSpot's
C2) during its first minutes of load. On two cores that compilation, ~40-50 CPU-seconds each for
OpenSearch and Neo4j, competes with the first real changes: search's commit → visible p99 at 200/s
was 1-2.7 s in the first runs on a fresh stack against ~0.4 s warm (bench/RESULTS.md, "Where a cold
stack's CPU goes"). The warm-up makes the servers compile before the stack is handed over, by
driving each target's own sink, as ``aegis sinks run`` would, into a scratch corner of the target
(its namespace setting, ``warmup_<random>``): batches of upserts and removals of synthetic
policies, then the reads the reconciler makes (deep reads, range checksums, read-back). The
corner is dropped at the end, also when the warm-up fails; nothing reaches PostgreSQL.

The Kafka broker is warmed the way the change stream uses it: change-event-sized messages keyed by
policy id, produced with Kafka Connect's producer settings (acks all, idempotent) into a scratch
topic with the change topic's partition count, fetched and committed by a consumer group with the
sinks' fetch settings, at ``KAFKA_MESSAGES_PER_SECOND``; the topic and the group are deleted at the
end. Kafka Connect (Debezium) is not warmed: only real changes of the source table exercise it.

Behavior when things go wrong: a target that cannot be reached or refuses a write ends its own
warm-up early (reported with the error, never raised): the stack is up either way, only colder.
The other targets go on. A scratch corner that cannot be dropped is named in the report, so it can
be dropped by hand with the target's own client (its index alias, labels or key prefix carry the name;
for Kafka, the topic and the consumer group are named ``warmup_<random>``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from aegis.settings import Settings, with_variables
from cdc_sinks.base import PolicyDocument, Removal, SinkRecord
from cdc_sinks.registry import SPECS
from devstack.kafka import node_name

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

KAFKA = "kafka"
"""The broker service (``kafka-2``, ``kafka-3``: the cluster profile's others), warmed by ``_warm_kafka``."""

POLICIES = 2_000
"""Distinct synthetic policies (ids 1…POLICIES of the scratch corner)."""
BATCH_SIZES = (10, 50, 200)
"""Batch sizes in turn: what the sinks send at low, medium and high rates."""
_REGIONS = ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원", "충북", "충남", "전북",
            "전남", "경북", "경남", "제주")
_FIELDS = ("창업", "금융", "기술", "인력", "수출", "내수", "경영")
KAFKA_MESSAGES_PER_SECOND = 1_000
"""Pace of the Kafka warm-up (~1.4 MB/s of scratch messages: ~170 MB over the default two minutes)."""
KAFKA_MESSAGE_BYTES = 1_400
"""Size of a scratch message: a change event of a real-shaped policy."""


@dataclass
class WarmUpResult:
    """What the warm-up of one target did."""

    sink: str
    """What carried the warm-up: a sink's name, or ``kafka`` (a producer and a consumer group)."""
    service: str
    namespace: str
    batches: int = 0
    changes: int = 0
    reads: int = 0
    seconds: float = 0.0
    error: str | None = None
    dropped: bool = False

    def line(self) -> str:
        through = "a producer and a consumer group" if self.sink == KAFKA else f"the {self.sink} sink"
        done = (f"{self.service}: warmed up in {self.seconds:.0f}s ({self.batches} batches, {self.changes} "
                f"changes, {self.reads} reads through {through})")
        if self.error:
            done += f"; stopped early: {self.error}"
        if not self.dropped:
            done += f"; its scratch corner {self.namespace!r} is left over: drop it by hand"
        return done


def warmed_services(settings: Settings, services: list[str]) -> list[str]:
    """The services among ``services`` that ``warm_up`` drives: a sink's target, or a Kafka broker."""
    targets = {spec.stack_service for spec in SPECS.values()}
    brokers = set(broker_services(settings, services))
    return [service for service in services if service in targets or service in brokers]


def broker_services(settings: Settings, services: list[str]) -> list[str]:
    """The Kafka brokers among ``services`` (``kafka``; the cluster profile's ``kafka-2``, ``kafka-3``), not Connect."""
    brokers = {node_name(KAFKA, n) for n in range(1, settings.stack.kafka_brokers + 1)}
    return [service for service in services if service in brokers]


def _warm_kafka(settings: Settings, result: WarmUpResult, seconds: float) -> None:
    from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    started = time.monotonic()
    # librdkafka's warnings while a just-started broker loads its coordinators ("retrying") are noise in
    # `stack up`'s output; errors still show, and every failure the warm-up meets is in its report
    client = {**settings.kafka.client_config(), "log_level": 3}
    admin = AdminClient(client)
    topic = result.namespace
    consumer = None
    try:
        admin.create_topics([NewTopic(topic, num_partitions=settings.kafka.change_topic_partitions,
                                      replication_factor=-1)])[topic].result(timeout=30)
        producer = Producer({**client, "acks": "all", "enable.idempotence": True, "linger.ms": 0})
        consumer = Consumer({**client, "group.id": topic, "enable.auto.commit": False,
                             "auto.offset.reset": "earliest", "fetch.min.bytes": settings.sinks.fetch_min_bytes,
                             "fetch.wait.max.ms": settings.sinks.fetch_wait_ms})
        consumer.subscribe([topic])
        payload = b"x" * KAFKA_MESSAGE_BYTES
        tick = 0.02
        per_tick = max(1, round(KAFKA_MESSAGES_PER_SECOND * tick))
        deadline = time.monotonic() + seconds
        next_tick = last_commit = time.monotonic()
        while time.monotonic() < deadline:
            for k in range(per_tick):
                producer.produce(topic, key=str((result.changes + k) % POLICIES + 1).encode(), value=payload)
            result.changes += per_tick
            result.batches += 1
            producer.poll(0)
            fetched = consumer.consume(num_messages=500, timeout=max(0.0, next_tick + tick - time.monotonic()))
            result.reads += sum(1 for m in fetched if m.error() is None)
            if time.monotonic() - last_commit >= 1.0 and result.reads:
                consumer.commit(asynchronous=False)
                last_commit = time.monotonic()
            next_tick += tick
        producer.flush(10)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        result.error = f"KafkaException: {error.str() if isinstance(error, KafkaError) else error}"
    except Exception as exc:  # noqa: BLE001 - reported: the stack is up either way, only colder
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if consumer is not None:
            consumer.close()
        result.dropped = _delete_kafka_scratch(admin, topic, result)
        result.seconds = time.monotonic() - started


def _delete_kafka_scratch(admin: AdminClient, topic: str, result: WarmUpResult) -> bool:
    """Delete the scratch topic and consumer group (each may be absent after an early failure); False,
    with the reason in ``result.error``, if either is left over."""
    from confluent_kafka import KafkaException

    deleted = True
    for what, delete in (("topic", admin.delete_topics), ("consumer group", admin.delete_consumer_groups)):
        try:
            delete([topic])[topic].result(timeout=30)
            continue
        except KafkaException as exc:
            code = exc.args[0].name() if exc.args and hasattr(exc.args[0], "name") else ""
            if code in ("UNKNOWN_TOPIC_OR_PART", "GROUP_ID_NOT_FOUND"):
                continue
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - e.g. the 30 s wait running out: reported like any other
            reason = f"{type(exc).__name__}: {exc}"
        deleted = False
        result.error = result.error or f"deleting the scratch {what}: {reason}"
    return deleted


@dataclass
class _Workload:
    """Synthetic policies that change a little every round, as a collector's updates do."""

    lsn: int = 1
    round: int = 0

    def batch(self, size: int) -> tuple[list[SinkRecord], list[Removal]]:
        self.round += 1
        start = (self.round * size) % POLICIES
        chosen = [(start + k) % POLICIES + 1 for k in range(size)]  # ids 1…POLICIES, in turn
        records, removals = [], []
        for policy_id in chosen:
            self.lsn += 1
            if (policy_id + self.round) % 10 == 0:
                removals.append(Removal(policy_id, self.lsn))
            else:
                records.append(self._record(policy_id))
        return records, removals

    def _record(self, policy_id: int) -> SinkRecord:
        variant = (policy_id + self.round) % 7
        today = date.today()
        document = PolicyDocument(
            id=policy_id, source_system="aegis-warm-up", source_id=f"W{policy_id:06d}",
            title=f"{today.year}년 청년 창업 지원사업 {policy_id}호 공고 (수정 {self.round})",
            content="청년 창업기업의 사업화를 위해 시제품 제작, 마케팅, 지식재산권 비용을 지원합니다. " * (1 + variant),
            issuing_organization="중소벤처기업부", executing_organization=f"창업진흥원 {variant}",
            target_regions=list(_REGIONS[: 1 + (policy_id % 3) * 8]), target_group="만 39세 이하 예비창업자",
            support_field=_FIELDS[variant], funding_type="보조금", status="active",
            application_start_date=today - timedelta(days=variant),
            application_end_date=today + timedelta(days=30 + variant),
            original_url=f"https://example.invalid/warm-up/{policy_id}", quality_score=0.5 + variant / 20,
            updated_at=datetime.now(UTC))
        return SinkRecord(policy_id, self.lsn, f"{policy_id:032x}{self.round:032x}", document)


def warm_up(settings: Settings, services: list[str], seconds: float,
            progress: Callable[[str], None] = lambda _: None) -> list[WarmUpResult]:
    """Drive the sink of every target served by one of ``services`` for ``seconds`` once it is ready
    (its schema set up: seconds on a cold server), all at once (each in a thread: the servers compile
    side by side); a result per target, errors included."""
    specs = [spec for spec in SPECS.values() if spec.stack_service in services]
    results = [WarmUpResult(spec.name, spec.stack_service, f"warmup_{secrets.token_hex(4)}") for spec in specs]
    brokers = broker_services(settings, services)
    if brokers:
        results.append(WarmUpResult(KAFKA, ", ".join(brokers), f"warmup_{secrets.token_hex(4)}"))
    if not results:
        return results
    progress(f"warming up {', '.join(r.service for r in results)} for {seconds:.0f}s ...")
    threads = [threading.Thread(target=_warm_kafka if result.sink == KAFKA else _warm, args=(settings, result, seconds),
                                name=f"warm-up-{result.sink}", daemon=True) for result in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        progress(result.line())
    return results


def _warm(settings: Settings, result: WarmUpResult, seconds: float) -> None:
    spec = SPECS[result.sink]
    started = time.monotonic()
    scratch = with_variables(settings, spec.namespace_variables(result.namespace))
    try:
        sink = spec.build(scratch)
    except Exception as exc:  # noqa: BLE001 - reported: the stack is up either way, only colder
        result.error, result.dropped = f"{type(exc).__name__}: {exc}", True  # nothing was created
        return
    workload = _Workload()
    try:
        sink.ensure_ready()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            records, removals = workload.batch(BATCH_SIZES[workload.round % len(BATCH_SIZES)])
            sink.write_batch(records, removals)
            result.batches += 1
            result.changes += len(records) + len(removals)
            sink.read_records([r.policy_id for r in records[:100]])
            result.reads += 1
            if result.batches % 10 == 0:
                sink.range_checksums(1_000, 0, None)
                sink.read_back(0, 1_000)
                result.reads += 2
    except Exception as exc:  # noqa: BLE001 - reported: the stack is up either way, only colder
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            sink.drop_namespace()
            result.dropped = True
        except Exception as exc:  # noqa: BLE001 - reported with the corner's name
            result.error = result.error or f"dropping the scratch corner: {type(exc).__name__}: {exc}"
        sink.close()
        result.seconds = time.monotonic() - started
