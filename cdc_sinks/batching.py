"""From a micro-batch of Kafka messages to what a sink writes.

1. **Decode** every message through the typed ``ChangeEvent``; an undecodable one is set aside
   as a dead letter (``DataError``), the rest go on.
2. **Coalesce per key by LSN**: of several events for one policy in the batch only the newest
   (highest LSN; a tombstone counts as ``FINAL_LSN``) survives — Kafka order breaks ties.
3. **Active-view rule**: status ``active`` → ``SinkRecord`` (upsert); any other status, a delete
   or a tombstone → ``Removal`` (``FINAL_LSN`` for deletes and tombstones: ids are never reused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from aegis.changestream.event import ChangeEvent, Op, decode_change, validated_image
from aegis.errors import DataError, ErrorCode, TerminalError
from cdc_sinks.base import FINAL_LSN, PolicyDocument, Removal, SinkRecord

if TYPE_CHECKING:
    from confluent_kafka import Message


def position(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a message a consumer returned without an error.

    The client types them optional (a message being produced has none yet); a consumed one has all three.
    """
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise TerminalError(f"a consumed Kafka message has no position ({topic}, {partition}, {offset})",
                            code=ErrorCode.BATCH_PROCESSING_ERROR)
    return topic, partition, offset


@dataclass(frozen=True, slots=True)
class ConsumedMessage:
    """One Kafka message as the runtime consumed it (bytes untouched, so it can be dead-lettered)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @classmethod
    def of(cls, message: Message) -> ConsumedMessage:
        """``message`` (consumed, without an error) as the runtime keeps it."""
        topic, partition, offset = position(message)
        ts_type, ts = message.timestamp()
        # a consumed message's headers are a list of (name, bytes) pairs (a dict only when producing)
        headers = cast("list[tuple[str, bytes | None]]", message.headers() or [])
        return cls(topic=topic, partition=partition, offset=offset, key=message.key(), value=message.value(),
                   timestamp_ms=ts if ts_type else None, headers=tuple(headers))


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that can never be applied, with the reason."""

    message: ConsumedMessage
    error: DataError


@dataclass(frozen=True, slots=True)
class Change:
    """The write one decoded event asks for, and where it came from."""

    message: ConsumedMessage
    event: ChangeEvent
    action: SinkRecord | Removal

    @property
    def policy_id(self) -> int:
        return self.event.policy_id

    @property
    def lsn(self) -> int:
        return self.action.lsn


@dataclass
class BatchPlan:
    """What to write for one micro-batch: at most one change per policy, plus the rejects."""

    changes: dict[int, Change] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    superseded: int = 0

    @property
    def upserts(self) -> list[Change]:
        return [c for c in self.changes.values() if isinstance(c.action, SinkRecord)]

    @property
    def removals(self) -> list[Change]:
        return [c for c in self.changes.values() if isinstance(c.action, Removal)]


def to_action(event: ChangeEvent) -> SinkRecord | Removal:
    """Apply the active-view rule to one decoded event."""
    if event.tombstone or event.op is Op.DELETE:
        return Removal(policy_id=event.policy_id, lsn=FINAL_LSN)
    if event.lsn is None:
        raise DataError(f"change event for policy {event.policy_id} carries no source LSN",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE,
                        hint="only Debezium PostgreSQL change events (source.lsn set) can be applied")
    if event.is_removal:
        return Removal(policy_id=event.policy_id, lsn=event.lsn)
    assert event.after_image is not None and event.content_hash is not None
    document = validated_image(PolicyDocument.from_image, event.after_image,
                               f"policy {event.policy_id} cannot be projected to a document")
    return SinkRecord(policy_id=event.policy_id, lsn=event.lsn, content_hash=event.content_hash.strip(),
                      document=document)


def plan_batch(messages: list[ConsumedMessage],
               decode: Callable[[bytes | None, bytes | None], ChangeEvent] = decode_change) -> BatchPlan:
    """Decode (``decode``: JSON by default, see ``aegis.changestream.decoding``), coalesce per
    policy by LSN and apply the active-view rule."""
    plan = BatchPlan()
    for message in messages:
        try:
            event = decode(message.key, message.value)
            change = Change(message=message, event=event, action=to_action(event))
        except DataError as exc:
            plan.rejected.append(Rejected(message, exc))
            continue
        current = plan.changes.get(change.policy_id)
        if current is not None:
            plan.superseded += 1
            if change.lsn < current.lsn:
                continue
        plan.changes[change.policy_id] = change
    return plan
