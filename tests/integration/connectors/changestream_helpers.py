"""Change-stream test helpers: reading a topic from its beginning, and removing a test's rows.

Each test runs its own connector (``testkit.streams``: connector, slot, publication and topics of
its own, so the connector every other suite uses is never disturbed and a fresh snapshot really is
fresh). (A module of its own, not ``conftest``: several test folders have a ``conftest`` and only
one can be imported under that name in one pytest session.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from aegis.db import connect
from aegis.settings import Settings
from testkit.streams import new_tag


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    offset: int

    def json_key(self):
        return json.loads(self.key) if self.key is not None else None


class TopicReader:
    """Reads a topic from the beginning with an assigned (group-less) consumer."""

    def __init__(self, settings: Settings, topic: str):
        self.topic = topic
        self.consumer = Consumer({**settings.kafka.client_config(),
                                  "group.id": f"cstest-reader-{new_tag()}", "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest"})
        self.admin = AdminClient({**settings.kafka.client_config()})
        self.assigned = False
        self.messages: list[Message] = []

    def _assign(self) -> bool:
        metadata = self.admin.list_topics(self.topic, timeout=5).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return False
        self.consumer.assign([TopicPartition(self.topic, p, 0) for p in metadata.partitions])
        self.assigned = True
        return True

    def read_until(self, done: Callable[[list[Message]], bool], timeout: float) -> list[Message]:
        """Collect messages until ``done(all collected)`` is true or ``timeout`` passes; return all collected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.assigned and not self._assign():
                time.sleep(0.2)
                continue
            if done(self.messages):
                return list(self.messages)
            for m in self.consumer.consume(num_messages=5000, timeout=0.3):
                if m.error():
                    if m.error().fatal():
                        raise KafkaException(m.error())
                    continue  # e.g. a partition just created: the next poll has it
                self.messages.append(Message(m.topic(), m.key(), m.value(), list(m.headers() or []), m.offset()))
        return list(self.messages)

    def read_for(self, seconds: float) -> list[Message]:
        return self.read_until(lambda _: False, seconds)

    def close(self) -> None:
        self.consumer.close()


def delete_test_rows(settings: Settings, source_system: str) -> None:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute("DELETE FROM policies WHERE source_system = %s", (source_system,))
