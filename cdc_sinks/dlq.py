"""The dead-letter topic (``KAFKA_TOPIC_DLQ``, default ``data-pipeline-dlq``).

A dead letter is the original message, key and value, with headers naming the sink, the error
code, kind and message, and where it came from (topic/partition/offset). Key, value and error
message pass ``aegis.privacy`` masking first (``mask_bytes`` keeps the byte length, so an Avro
message stays decodable): the change stream carries masked text already (docs/privacy.md), so this
changes nothing unless a message from before the masking policy is dead-lettered. The
runtime only commits an offset after the dead letters of that batch are acknowledged by Kafka.

Reads are bounded: ``count_dead_letters`` takes the watermarks alone (``aegis status``),
``read_page`` reads one page from a position (``aegis dlq list --limit --from``) and says whether
it reached the end, ``read_refs`` reads exact positions (``show``, ``replay REFS``). No consumer
group is committed. A dead letter is replayed by producing its original key and value to its
original topic: every sink sees it again, and the LSN guard makes an outdated replay harmless.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import (
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)
from pydantic import BaseModel, ConfigDict

from aegis.changestream.groups import partition_watermarks, reader
from aegis.errors import AegisError, ErrorCode, TransientError
from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES
from aegis.privacy import mask_bytes, mask_text
from aegis.settings import KafkaSettings
from cdc_sinks.batching import ConsumedMessage, Rejected
from cdc_sinks.batching import position as message_position

H_SINK = "aegis.sink"
H_CODE = "aegis.error.code"
H_KIND = "aegis.error.kind"
H_MESSAGE = "aegis.error.message"
H_TOPIC = "aegis.original.topic"
H_PARTITION = "aegis.original.partition"
H_OFFSET = "aegis.original.offset"
H_FAILED_AT = "aegis.failed_at"
H_REPLAYED_FROM = "aegis.replayed_from"


class DeadLetter(BaseModel):
    """One dead letter as read back from the topic."""

    model_config = ConfigDict(frozen=True)

    dlq_partition: int
    dlq_offset: int
    sink: str
    error_code: str
    error_kind: str
    error_message: str
    original_topic: str
    original_partition: int
    original_offset: int
    failed_at: str | None
    key: bytes | None
    value: bytes | None

    @property
    def ref(self) -> str:
        """How the CLI names it: ``<dlq partition>:<dlq offset>``."""
        return f"{self.dlq_partition}:{self.dlq_offset}"

    @property
    def origin(self) -> tuple[str, int, int]:
        return self.original_topic, self.original_partition, self.original_offset


def error_headers(sink: str, message: ConsumedMessage, error: AegisError) -> list[tuple[str, str | bytes | None]]:
    return [(H_SINK, sink.encode()), (H_CODE, error.code.value.encode()),
            (H_KIND, type(error).__name__.encode()), (H_MESSAGE, mask_text(error.message[:2000]).encode()),
            (H_TOPIC, message.topic.encode()), (H_PARTITION, str(message.partition).encode()),
            (H_OFFSET, str(message.offset).encode()),
            (H_FAILED_AT, datetime.now(UTC).isoformat(timespec="milliseconds").encode())]


def _producer(kafka: KafkaSettings) -> Producer:
    # a dead letter is the original message: as large as the largest change event (aegis.models.limits).
    # murmur2 as Kafka's Java producer (Debezium) hashes keys: a replayed change lands in the partition
    # its policy's other changes are in (librdkafka's default, CRC32, would pick another).
    return Producer({**kafka.client_config(), "acks": "all", "enable.idempotence": True, "linger.ms": 5,
                     "message.timeout.ms": 30_000, "message.max.bytes": CHANGE_MESSAGE_MAX_BYTES,
                     "partitioner": "murmur2_random"})


class DeadLetterWriter:
    """Sends rejected messages to the dead-letter topic and waits until Kafka has them."""

    def __init__(self, kafka: KafkaSettings, sink: str):
        self.topic = kafka.topic_dlq
        self.sink = sink
        self._producer = _producer(kafka)

    def send(self, rejected: Iterable[Rejected], timeout: float = 30.0) -> int:
        """Produce every rejected message; return how many. ``TransientError`` if Kafka did not ack."""
        failures: list[str] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                failures.append(str(err))

        count = 0
        for item in rejected:
            m = item.message
            self._producer.produce(self.topic, key=mask_bytes(m.key), value=mask_bytes(m.value),
                                   headers=error_headers(self.sink, m, item.error), on_delivery=delivered)
            count += 1
        if count:
            remaining = self._producer.flush(timeout)
            if remaining or failures:
                raise TransientError(f"dead-letter topic {self.topic} did not acknowledge {remaining or len(failures)} "
                                     f"message(s): {failures[:1]}", code=ErrorCode.BATCH_PROCESSING_ERROR,
                                     hint="check that Kafka is up (`aegis stack status`)")
        return count

    def close(self) -> None:
        self._producer.flush(5)


def _header(headers: dict[str, bytes], name: str, default: str = "") -> str:
    raw = headers.get(name)
    return raw.decode("utf-8", "replace") if raw is not None else default


def _to_dead_letter(msg) -> DeadLetter:
    headers = {k: v for k, v in (msg.headers() or [])}
    return DeadLetter(
        dlq_partition=msg.partition(), dlq_offset=msg.offset(),
        sink=_header(headers, H_SINK, "?"), error_code=_header(headers, H_CODE, "?"),
        error_kind=_header(headers, H_KIND, "?"), error_message=_header(headers, H_MESSAGE),
        original_topic=_header(headers, H_TOPIC, "?"),
        original_partition=int(_header(headers, H_PARTITION, "-1") or -1),
        original_offset=int(_header(headers, H_OFFSET, "-1") or -1),
        failed_at=_header(headers, H_FAILED_AT) or None, key=msg.key(), value=msg.value())


class DeadLetterCount(BaseModel):
    """How many dead letters the topic holds, from its watermarks alone (nothing is read)."""

    topic: str
    partitions: dict[int, tuple[int, int]]  # partition -> (low, high) watermark

    @property
    def total(self) -> int:
        return sum(high - low for low, high in self.partitions.values())


class DeadLetterPage(BaseModel):
    """One page of dead letters, read from ``start`` up to at most ``limit`` messages, oldest first.

    ``ends`` are the high watermarks taken before reading: ``complete`` says the page reached them
    in every partition (nothing older than ``ends`` is left unread after it); ``next`` is where the
    following page starts, None once complete. ``stalled`` says reading stopped because Kafka
    returned nothing for the idle timeout, before ``limit`` or the end was reached.
    """

    topic: str
    letters: list[DeadLetter]
    read: int
    start: dict[int, int]
    ends: dict[int, int]
    lows: dict[int, int]
    next: dict[int, int] | None
    stalled: bool = False

    @property
    def complete(self) -> bool:
        return self.next is None

    @property
    def total(self) -> int:
        return sum(self.ends[p] - self.lows[p] for p in self.ends)


def _reader(kafka: KafkaSettings) -> Consumer:
    return reader(kafka, "dlq-reader", **{"auto.offset.reset": "earliest"})


def _watermarks(consumer: Consumer, kafka: KafkaSettings, timeout: float) -> dict[int, tuple[int, int]]:
    return partition_watermarks(consumer, kafka.topic_dlq, timeout, code=ErrorCode.BATCH_PROCESSING_ERROR,
                                hint="check that Kafka is up (`aegis stack status`)")


def count_dead_letters(kafka: KafkaSettings, *, timeout: float = 10.0) -> DeadLetterCount:
    """The dead letters the topic retains (high minus low watermark per partition); reads none of them."""
    consumer = _reader(kafka)
    try:
        return DeadLetterCount(topic=kafka.topic_dlq, partitions=_watermarks(consumer, kafka, timeout))
    finally:
        consumer.close()


def read_page(kafka: KafkaSettings, *, start: dict[int, int] | None = None, limit: int = 50,
              sink: str | None = None, idle_timeout: float = 10.0) -> DeadLetterPage:
    """Read at most ``limit`` dead letters from ``start`` (partition -> offset; partitions before the
    lowest one named are skipped, the others start at their oldest), oldest first, partition by
    partition. ``sink`` keeps only that sink's letters (``read`` still counts every message read)."""
    consumer = _reader(kafka)
    try:
        marks = _watermarks(consumer, kafka, idle_timeout)
        lows = {p: low for p, (low, _high) in marks.items()}
        ends = {p: high for p, (_low, high) in marks.items()}
        first = min(start) if start else None
        positions = {p: max(lows[p], (start or {}).get(p, lows[p])) for p in marks if first is None or p >= first}
        letters: list[DeadLetter] = []
        read, stalled = 0, False
        begun = dict(positions)
        for partition in sorted(positions):
            if read >= limit:
                break
            position = positions[partition]
            if position >= ends[partition]:
                continue
            consumer.assign([TopicPartition(kafka.topic_dlq, partition, position)])
            last_progress = time.monotonic()
            while read < limit and position < ends[partition]:
                msg = consumer.poll(0.5)
                if msg is None:
                    if time.monotonic() - last_progress > idle_timeout:
                        stalled = True
                        break
                    continue
                if (error := msg.error()) is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        position = max(position, ends[partition])  # nothing is left before the end
                        break
                    raise TransientError(f"reading {kafka.topic_dlq} failed: {error}",
                                         code=ErrorCode.BATCH_PROCESSING_ERROR)
                last_progress = time.monotonic()
                position = message_position(msg)[2] + 1
                read += 1
                letter = _to_dead_letter(msg)
                if sink is None or letter.sink == sink:
                    letters.append(letter)
            positions[partition] = position
            consumer.unassign()
            if stalled:
                break
        unfinished = {p: o for p, o in sorted(positions.items()) if o < ends[p]}
        return DeadLetterPage(topic=kafka.topic_dlq, letters=letters, read=read, start=begun, ends=ends, lows=lows,
                              next=unfinished or None, stalled=stalled)
    finally:
        consumer.close()


def read_dead_letters(kafka: KafkaSettings, *, sink: str | None = None, page_size: int = 5000,
                      idle_timeout: float = 10.0) -> list[DeadLetter]:
    """Every dead letter up to the watermarks taken at the first page, oldest first (optionally
    one sink's). Raises ``TransientError`` rather than return less: it never stops silently."""
    letters: list[DeadLetter] = []
    page = read_page(kafka, limit=page_size, sink=sink, idle_timeout=idle_timeout)
    ends = page.ends
    while True:
        letters += page.letters
        if page.stalled:
            raise TransientError(f"reading {kafka.topic_dlq} stalled after {len(letters)} dead letter(s), "
                                 "before its end", code=ErrorCode.BATCH_PROCESSING_ERROR,
                                 hint="check Kafka (`aegis stack status`), then try again")
        remaining = {p: o for p, o in (page.next or {}).items() if o < ends.get(p, 0)}
        if not remaining:
            return letters
        page = read_page(kafka, start=remaining, limit=page_size, sink=sink, idle_timeout=idle_timeout)


READ_THROUGH_GAP = 500
"""``read_refs`` reads on from one wanted offset to the next when they are at most this far apart,
and seeks past a larger gap: a seek costs a fetch round trip, a message read through ~µs."""


def read_refs(kafka: KafkaSettings, refs: Iterable[tuple[int, int]], *,
              timeout: float = 10.0) -> dict[tuple[int, int], DeadLetter]:
    """The dead letters at exactly these (partition, offset) positions; absent ones are left out.

    Each partition is read forward once from its lowest wanted offset (seeking only across gaps of
    more than ``READ_THROUGH_GAP``): one seek per reference made ``aegis dlq show`` of a few hundred
    references take minutes. ``timeout``: the longest wait for a message before giving up on a
    partition's remaining references.
    """
    wanted: dict[int, list[int]] = {}
    for partition, offset in refs:
        wanted.setdefault(partition, []).append(offset)
    consumer = _reader(kafka)
    found: dict[tuple[int, int], DeadLetter] = {}
    try:
        for partition, offsets in wanted.items():
            found.update(_read_offsets(consumer, kafka.topic_dlq, partition, sorted(set(offsets)), timeout))
        return found
    finally:
        consumer.close()


def _read_offsets(consumer: Consumer, topic: str, partition: int, pending: list[int],
                  timeout: float) -> dict[tuple[int, int], DeadLetter]:
    found: dict[tuple[int, int], DeadLetter] = {}
    next_offset: int | None = None  # where the assigned partition reads next
    sought = -1  # the offset of the last seek
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        if next_offset is None or pending[0] - next_offset > READ_THROUGH_GAP:
            sought = next_offset = pending[0]
            consumer.assign([TopicPartition(topic, partition, sought)])
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if (error := msg.error()) is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                break  # every offset still pending is past the end
            raise TransientError(f"reading {topic} failed: {error}", code=ErrorCode.BATCH_PROCESSING_ERROR)
        _, _, offset = message_position(msg)
        if offset < sought:
            break  # the seek went past the end and the reader started over: the rest is not there
        next_offset, deadline = offset + 1, time.monotonic() + timeout
        while pending and pending[0] < offset:  # skipped over: gone (retention)
            pending.pop(0)
        if pending and pending[0] == offset:
            found[(partition, offset)] = _to_dead_letter(msg)
            pending.pop(0)
    consumer.unassign()
    return found


def replay(kafka: KafkaSettings, letters: Iterable[DeadLetter]) -> int:
    """Produce each distinct original message (several sinks may have dead-lettered the same one)
    back to its original topic. Returns how many were produced."""
    producer = _producer(kafka)
    failures: list[str] = []
    seen: set[tuple[str, int, int]] = set()
    for letter in letters:
        if letter.origin in seen or letter.original_topic == "?":
            continue
        seen.add(letter.origin)
        producer.produce(letter.original_topic, key=letter.key, value=letter.value,
                         headers=[(H_REPLAYED_FROM, f"{kafka.topic_dlq}:{letter.ref}".encode())],
                         on_delivery=lambda err, _m: failures.append(str(err)) if err else None)
    remaining = producer.flush(30)
    if remaining or failures:
        raise TransientError(f"replay: {remaining or len(failures)} message(s) not acknowledged: {failures[:1]}",
                             code=ErrorCode.BATCH_PROCESSING_ERROR, hint="check Kafka and run the replay again")
    return len(seen)
