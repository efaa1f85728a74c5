"""Lag is not drift: which differences are changes still on their way to a target.

A record can differ from PostgreSQL because its change has not reached the target yet: Debezium
has not published it, or the sink has not applied it. Repairing such a record would do the
stream's work (and report it as drift), so before any repair the reconciler asks:

1. **Has the change stream published everything committed before the pass read PostgreSQL?**
   The connector's replication slot (``POSTGRES_SLOT_NAME`` in this database) confirms the WAL
   position Debezium has handed to Kafka; it is waited for (``RECONCILE_SETTLE_SECONDS``) until
   it passes the position read before the comparison.
2. **Which policies has the sink not applied yet?** The keys of the change-topic messages
   between the sink's committed offsets (its consumer group, ``SINKS_GROUP_ID_PREFIX`` + name)
   and the topic's end.

A difference whose policy has such a message pending is *in flight*: reported as lag, left to the
stream. When the stream cannot be asked (no slot for this database: nothing streams it; Kafka
unreachable), nothing is in flight and every difference is drift — repairs are still guarded by
LSN, so a late change wins anyway. When the stream is behind and does not catch up in time,
every difference counts as in flight: nothing can tell a slow change from drift then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from aegis.changestream.decoding import build_decoder
from aegis.changestream.groups import group_lag, watermarks
from aegis.errors import AegisError
from aegis.settings import Settings
from cdc_sinks.topic_reader import Stretch

log = logging.getLogger(__name__)

MAX_PENDING = 2_000_000
"""More pending messages than this are not read: every difference counts as in flight."""


@dataclass
class StreamState:
    """What the change stream still carries towards one sink."""

    checked: bool                      # the stream was asked (False: nothing can be in flight)
    behind: bool = False               # the stream is behind the pass: every difference counts as in flight
    pending_ids: set[int] = field(default_factory=set)
    pending_messages: int = 0
    note: str = ""

    def in_flight(self, policy_id: int) -> bool:
        return self.behind or policy_id in self.pending_ids


def slot_confirmed_lsn(conn: psycopg.Connection, slot_name: str) -> int | None:
    """The WAL position the connector has confirmed, or None when no slot of that name streams this database."""
    row = conn.execute("SELECT confirmed_flush_lsn - '0/0'::pg_lsn FROM pg_replication_slots "
                       "WHERE slot_name = %s AND database = current_database()", (slot_name,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def stream_state(settings: Settings, conn: psycopg.Connection, sink_name: str, read_from_lsn: int, *,
                 settle_seconds: float, sleep: Callable[[float], None] = time.sleep) -> StreamState:
    """What is still on its way to ``sink_name``, for a comparison that read PostgreSQL after ``read_from_lsn``."""
    confirmed = slot_confirmed_lsn(conn, settings.postgres.slot_name)
    if confirmed is None:
        return StreamState(checked=False, note=f"no replication slot {settings.postgres.slot_name} streams this "
                                               "database: nothing is in flight")
    deadline = time.monotonic() + settle_seconds
    while confirmed < read_from_lsn and time.monotonic() < deadline:
        sleep(0.5)
        confirmed = slot_confirmed_lsn(conn, settings.postgres.slot_name) or confirmed
    if confirmed < read_from_lsn:
        return StreamState(checked=True, behind=True,
                           note=f"the change stream is {read_from_lsn - confirmed:,} WAL bytes behind this pass "
                                f"after {settle_seconds:.0f}s: every difference is left to it (in flight)")
    try:
        return _pending(settings, sink_name)
    except AegisError as exc:
        return StreamState(checked=False, note=f"could not read the change topic ({exc.message}): "
                                               "every difference counts as drift")


def pending_changes(settings: Settings, conn: psycopg.Connection, sink_name: str) -> StreamState:
    """What the sink has not applied yet, without waiting for the connector (for marker purges: a change
    Debezium has not published yet is published in order, its removal after it)."""
    if slot_confirmed_lsn(conn, settings.postgres.slot_name) is None:
        return StreamState(checked=False, note="no change stream feeds this database")
    try:
        return _pending(settings, sink_name)
    except AegisError as exc:
        return StreamState(checked=False, behind=True, note=f"could not read the change topic ({exc.message})")


def _pending(settings: Settings, sink_name: str) -> StreamState:
    topic = settings.sinks.topic(settings.kafka)
    group = f"{settings.sinks.group_id_prefix}{sink_name}"
    lags = group_lag(settings.kafka, group, topic)
    if not lags:
        return StreamState(checked=True, note=f"topic {topic} holds nothing yet")
    starts = {lag.partition: lag.position for lag in lags}  # never committed: all of it is pending
    ends = {lag.partition: lag.high for lag in lags}
    total = sum(max(0, ends[p] - starts[p]) for p in ends)
    if total > MAX_PENDING:
        return StreamState(checked=True, behind=True, pending_messages=total,
                           note=f"{total:,} change events not yet applied by {sink_name}: every difference "
                                "is left to the stream")
    state = StreamState(checked=True, pending_messages=total)
    state.pending_ids, complete = _read_key_ids(settings, topic, starts, ends, build_decoder(settings))
    if not complete:
        state.behind = True
        state.note = "the pending change events could not all be read in time: every difference is left to the stream"
    return state


def dead_letter_ids(settings: Settings, *, limit: int = MAX_PENDING) -> set[int] | None:
    """Policy ids of every dead letter in ``KAFKA_TOPIC_DLQ`` (a replay could bring any of them back);
    None when the topic cannot be read whole (too long, or Kafka unreachable)."""
    topic = settings.kafka.topic_dlq
    try:
        marks = watermarks(settings.kafka, topic)
        if sum(high - low for low, high in marks.values()) > limit:
            return None
        ids, complete = _read_key_ids(settings, topic, {p: low for p, (low, _) in marks.items()},
                                      {p: high for p, (_, high) in marks.items()}, build_decoder(settings))
    except AegisError:
        return None
    return ids if complete else None


def _read_key_ids(settings: Settings, topic: str, starts: dict[int, int], ends: dict[int, int],
                  decoder) -> tuple[set[int], bool]:
    """Policy ids of the message keys from ``starts`` to ``ends``; False if not all were read in time."""
    stretch = Stretch(settings.kafka, topic, starts, ends)
    ids = {policy_id for message in stretch if (policy_id := _key_id(decoder, message.key())) is not None}
    return ids, stretch.complete


def _key_id(decoder, key: bytes | None) -> int | None:
    try:
        document = decoder.document(key, "key")
    except AegisError:
        return None  # an undecodable key: the sink dead-letters it, nothing of a policy is pending
    if isinstance(document, dict):
        document = document.get("payload", document)
        value = document.get("id") if isinstance(document, dict) else None
        return value if isinstance(value, int) else None
    return None
