"""Catching up in proportion to policies, not events: skip a change the backlog already supersedes.

When a sink is far behind (a burst, a backfill, a restart after an outage), the same policy often
changes many times in the backlog. Applying every version is wasted work — for Milvus, an embedding
each. Once a sink's lag passes ``SINKS_LOOKAHEAD_MIN_LAG`` events, the runtime reads the keys of
the backlog once (``topic_reader.Stretch``, no group) and remembers, per partition and key, the
offset of the key's last message there. A message with a later message of its key still ahead is
skipped (counted as superseded and committed with its batch): the later one is in the topic and
will be applied, since offsets are only committed up to what was processed. So every policy is
written once per look-ahead, whatever the number of its changes in the backlog.

Nothing else changes: the LSN guard, dead letters, commits and rebalances work as before (a
partition revoked or lost drops its part of the look-ahead).
"""

from __future__ import annotations

import logging

from aegis.settings import KafkaSettings
from cdc_sinks.batching import ConsumedMessage, position
from cdc_sinks.topic_reader import Stretch

log = logging.getLogger(__name__)


class LookAhead:
    """The last offset of each key in the backlog as it was read, per partition."""

    def __init__(self) -> None:
        self.last: dict[tuple[int, bytes | None], int] = {}
        self.until: dict[int, int] = {}  # per partition: the end offset the look-ahead covers

    def covers(self, partition: int, position: int) -> bool:
        return position < self.until.get(partition, -1)

    def superseded(self, message: ConsumedMessage) -> bool:
        """A later message of the same key is ahead in this partition."""
        return self.last.get((message.partition, message.key), -1) > message.offset

    def read(self, kafka: KafkaSettings, topic: str, starts: dict[int, int], ends: dict[int, int]) -> int:
        """Read the keys from ``starts`` to ``ends``; returns how many messages were read (0: nothing kept,
        when the stretch could not be read whole)."""
        stretch = Stretch(kafka, topic, starts, ends)
        last: dict[tuple[int, bytes | None], int] = {}
        read = 0
        for message in stretch:
            _, partition, offset = position(message)
            last[(partition, message.key())] = offset
            read += 1
        if not stretch.complete:
            log.warning("look-ahead incomplete: not used", extra={"topic": topic, "read": read})
            return 0
        for partition in starts:
            self.forget(partition)
            self.until[partition] = ends[partition]
        self.last.update(last)
        return read

    def forget(self, partition: int) -> None:
        self.until.pop(partition, None)
        for key in [k for k in self.last if k[0] == partition]:
            del self.last[key]
