"""Change-stream test helpers: an isolated Debezium connector per test module, and Kafka reading.

Each module gets its own connector, replication slot, publication and topic prefix (so the
connector every other suite uses is never disturbed, and a fresh snapshot really is fresh);
all of it is deleted again — slot and publication included — when the module ends. (A module of
its own, not ``conftest``: several test folders have a ``conftest`` and only one can be imported
under that name in one pytest session.)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from aegis.db import connect
from aegis.db.migrate import ensure_replication_access
from aegis.settings import Settings
from connectors.manage import apply_connector, delete_connector, wait_until_running


def isolated_settings(settings: Settings, tag: str, **connector: object) -> Settings:
    """``settings`` with a connector, slot, publication and topics of its own.

    The snapshot mode defaults to ``no_data``: rows other suites left in ``policies`` are not
    re-read by every test connector (a test about snapshots asks for ``initial``).
    """
    connector = {"snapshot_mode": "no_data", **connector}
    pg = settings.postgres.model_copy(update={"slot_name": f"aegis_cs_{tag}", "publication": f"aegis_cs_{tag}"})
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"cstest_{tag}",
                                              "topic_policy_events": f"cstest_{tag}.policy-events"})
    conn = settings.connector.model_copy(update={"name": f"aegis-cs-{tag}", **connector})
    return settings.model_copy(update={"postgres": pg, "kafka": kafka, "connector": conn})


def isolated_env(settings: Settings) -> dict[str, str]:
    """The environment variables that make the CLI address the isolated connector."""
    return {"POSTGRES_SLOT_NAME": settings.postgres.slot_name, "POSTGRES_PUBLICATION": settings.postgres.publication,
            "KAFKA_TOPIC_PREFIX": settings.kafka.topic_prefix,
            "KAFKA_TOPIC_POLICY_EVENTS": settings.kafka.topic_policy_events,
            "AEGIS_CONNECTOR_NAME": settings.connector.name,
            **{f"AEGIS_CONNECTOR_{k.upper()}": str(v) for k, v in settings.connector.model_dump().items()
               if v is not None and k not in {"name"}}}


def new_tag() -> str:
    return secrets.token_hex(4)


@contextlib.contextmanager
def running_connector(settings: Settings, *, before_start: Callable[[], None] = lambda: None,
                      overrides: dict[str, str] | None = None) -> Iterator[Settings]:
    """Create the isolated connector's publication, run ``before_start``, apply it (with property
    ``overrides``) and wait until it streams; delete it, its slot and its publication afterwards."""
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        ensure_replication_access(conn, settings.postgres)
    before_start()
    try:
        apply_connector(settings, overrides=overrides)
        wait_until_running(settings, timeout=90)
        yield settings
    finally:
        delete_connector(settings, drop_replication=True)


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


def insert_policy(conn, source_system: str, source_id: str, *, status: str = "active") -> int:
    """Insert one minimal valid policy row and return its id (caller commits)."""
    return conn.execute(
        "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash, status) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (source_system, source_id, f"정책 {source_id}", "내용", "기관", "c" * 64, status)).fetchone()[0]


def delete_test_rows(settings: Settings, source_system: str) -> None:
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute("DELETE FROM policies WHERE source_system = %s", (source_system,))
