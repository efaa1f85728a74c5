"""Reading a stretch of a topic without joining any consumer group: offsets in, messages out.

For those who look at what a group has not consumed yet (the runtime's look-ahead, the
reconciler's in-flight check) or at a whole small topic (dead letters), never committing anything.
Where a group stands (watermarks, committed offsets, members) is ``aegis.changestream.groups``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from confluent_kafka import KafkaException, Message, TopicPartition

from aegis.changestream.groups import reader
from aegis.errors import ErrorCode, TransientError
from aegis.settings import KafkaSettings
from cdc_sinks.batching import position


class Stretch:
    """The messages of ``topic`` from ``starts`` up to (not including) ``ends``, per partition.

    Iterate it; afterwards ``complete`` says whether every partition was read to its end within
    ``timeout`` seconds (a caller must not act on a partial read as if it were whole).
    """

    def __init__(self, kafka: KafkaSettings, topic: str, starts: dict[int, int], ends: dict[int, int],
                 timeout: float = 60.0):
        self.kafka = kafka
        self.topic = topic
        self.starts = starts
        self.ends = ends
        self.timeout = timeout
        self.complete = False

    def __iter__(self) -> Iterator[Message]:
        open_partitions = {p for p in self.ends if self.ends[p] > self.starts.get(p, self.ends[p])}
        if not open_partitions:
            self.complete = True
            return
        consumer = reader(self.kafka, "stretch")
        try:
            consumer.assign([TopicPartition(self.topic, p, self.starts[p]) for p in open_partitions])
            deadline = time.monotonic() + self.timeout
            while open_partitions and time.monotonic() < deadline:
                # A short wait: consume() waits its whole timeout unless 1000 messages are ready, and the
                # read is over as soon as every partition reached its end.
                for message in consumer.consume(1000, timeout=0.1):
                    if message.error() is not None:
                        continue  # partition EOF (or a transient fetch error): the position check decides
                    _, partition, offset = position(message)
                    if partition not in open_partitions or offset >= self.ends[partition]:
                        continue
                    if offset >= self.ends[partition] - 1:
                        open_partitions.discard(partition)
                    yield message
                for tp in consumer.position([TopicPartition(self.topic, p) for p in list(open_partitions)]):
                    if tp.offset >= self.ends[tp.partition]:
                        open_partitions.discard(tp.partition)
            self.complete = not open_partitions
        except KafkaException as exc:
            raise TransientError(f"kafka: {exc}", code=ErrorCode.CONSISTENCY_CHECK_FAILED) from None
        finally:
            consumer.close()
