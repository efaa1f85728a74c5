"""After a fault: is every target exactly PostgreSQL's active view, and what reached the DLQ?

* **ids and content hashes** — a reconciler dry run (``reconciler.runner``: range checksums, then
  row by row) over every target; it must report each target ``consistent``: no missing (lost),
  stale or orphaned (extra) record.
* **LSNs** — PostgreSQL does not store a row's LSN, the change topic does: each record a target
  holds must carry the LSN of its policy's newest change event (a target that missed a status
  round trip keeps the right hash at an older LSN; only this sees it).
* **dead letters** — read from the DLQ topic from the offsets it had before the fault.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from confluent_kafka import Consumer, KafkaException, TopicPartition
from pydantic import BaseModel

from aegis.changestream.decoding import build_decoder
from aegis.errors import AegisError, DataError
from aegis.settings import Settings
from cdc_sinks.dlq import DeadLetter, read_dead_letters
from cdc_sinks.registry import build_sink
from reconciler.drift import read_target
from reconciler.report import ConsistencyReport
from reconciler.runner import PassOptions, Reconciler
from testkit.targets import TARGETS

PAGE = 1000


class TargetDrift(BaseModel):
    target: str
    status: str
    lost: int = 0
    stale: int = 0
    extra: int = 0
    lsn_mismatch: int = 0
    examples: list[str] = []

    @property
    def clean(self) -> bool:
        return self.status == "consistent" and not (self.lost or self.stale or self.extra or self.lsn_mismatch)


class Check(BaseModel):
    """One look at every target; ``clean`` when all of them equal PostgreSQL's active view."""

    targets: list[TargetDrift]
    started: float   # time.monotonic()
    finished: float
    clean_since: dict[str, float] = {}  # per target: end of the first check of its current clean streak

    @property
    def clean(self) -> bool:
        return all(t.clean for t in self.targets)

    def total(self, field: str) -> int:
        return sum(getattr(t, field) for t in self.targets)

    def describe(self) -> str:
        return "; ".join(f"{t.target}: {t.status}, lost {t.lost}, stale {t.stale}, extra {t.extra}, "
                         f"LSN mismatch {t.lsn_mismatch}{' e.g. ' + ', '.join(t.examples) if t.examples else ''}"
                         for t in self.targets if not t.clean) or "every target equals PostgreSQL's active view"


def dry_run(settings: Settings) -> dict[str, TargetDrift]:
    """A reconciler dry run over every target: ids and content hashes against PostgreSQL."""
    report: ConsistencyReport = Reconciler(settings).run_pass(PassOptions(targets=list(TARGETS), dry_run=True))
    drift = {t.target: TargetDrift(target=t.target, status=t.status.value if not t.error else f"{t.status.value} "
                                   f"({t.error[:120]})", lost=t.missing, stale=t.stale, extra=t.orphaned)
             for t in report.targets}
    for i in report.inconsistencies:
        if len(drift[i.target].examples) < 3:
            drift[i.target].examples.append(f"{i.kind.value} {i.policy_id}")
    return drift


def newest_lsns(settings: Settings) -> dict[int, int]:
    """Per policy id, the LSN of its newest change event on the change topic (undecodable ones skipped)."""
    topic, decode = settings.sinks.topic(settings.kafka), build_decoder(settings)
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"faults-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    newest: dict[int, int] = {}
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        deadline = time.monotonic() + 60
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    todo.discard(msg.partition())
                try:
                    event = decode(msg.key(), msg.value())
                except DataError:
                    continue
                if event.lsn is not None:
                    newest[event.policy_id] = max(newest.get(event.policy_id, 0), event.lsn)
        if todo:
            raise AssertionError(f"change topic {topic} not read to its end within 60 s")
    finally:
        consumer.close()
    return newest


def lsn_mismatches(settings: Settings, target: str, newest: dict[int, int]) -> tuple[int, list[str]]:
    """Records of ``target`` whose LSN is not their policy's newest change event's."""
    sink = build_sink(target, settings)
    try:
        wrong = [f"{v.policy_id}@{v.lsn}≠{newest.get(v.policy_id)}" for v in read_target(sink, PAGE)
                 if v.lsn != newest.get(v.policy_id)]
    finally:
        sink.close()
    return len(wrong), wrong[:3]


def check(settings: Settings) -> Check:
    """Ids and hashes (dry run); then, where those agree, LSNs."""
    started = time.monotonic()
    try:
        drift = dry_run(settings)
    except AegisError as exc:  # PostgreSQL itself unreachable, another pass holding the lock
        return Check(targets=[TargetDrift(target="reconciler", status=f"failed ({exc.message[:120]})")],
                     started=started, finished=time.monotonic())
    if all(d.clean for d in drift.values()):
        newest = newest_lsns(settings)
        for name, d in drift.items():
            try:
                d.lsn_mismatch, d.examples = lsn_mismatches(settings, name, newest)
            except AegisError as exc:
                d.status = f"unreachable ({exc.message[:120]})"
    return Check(targets=list(drift.values()), started=started, finished=time.monotonic())


def wait_converged(settings: Settings, timeout: float, interval: float = 1.0) -> Check:
    """Check until clean or ``timeout`` seconds passed; the last check, with when each target became clean."""
    deadline = time.monotonic() + timeout
    since: dict[str, float] = {}
    while True:
        result = check(settings)
        for t in result.targets:
            if t.clean:
                since.setdefault(t.target, result.finished)
            else:
                since.pop(t.target, None)
        if result.clean or time.monotonic() > deadline:
            return result.model_copy(update={"clean_since": since})
        time.sleep(interval)


# ------------------------------------------------------------------------------ dead letters
def dlq_offsets(settings: Settings) -> dict[int, int]:
    """The DLQ topic's end offset per partition (empty while it does not exist)."""
    topic = settings.kafka.topic_dlq
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"faults-{uuid.uuid4().hex}"})
    try:
        meta = consumer.list_topics(timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions}
    except KafkaException:
        return {}
    finally:
        consumer.close()


def dead_letters_since(settings: Settings, start: dict[int, int]) -> list[DeadLetter]:
    """Dead letters of this suite's change topic written after ``start`` (``dlq_offsets``)."""
    topic = settings.sinks.topic(settings.kafka)
    return [d for d in read_dead_letters(settings.kafka)
            if d.dlq_offset >= start.get(d.dlq_partition, 0) and d.original_topic == topic]


def by_sink(letters: list[DeadLetter]) -> dict[str, list[DeadLetter]]:
    grouped: dict[str, list[DeadLetter]] = defaultdict(list)
    for d in letters:
        grouped[d.sink].append(d)
    return dict(grouped)
