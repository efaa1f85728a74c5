"""Change-stream fixtures: the servers the stream needs, and Kafka topic readers (the helpers are in
``changestream_helpers``)."""

from __future__ import annotations

import os

import pytest

from aegis.db import connect
from aegis.settings import Settings
from changestream_helpers import TopicReader

STREAM_SERVICES = ["postgres", "kafka", "kafka-connect"]


@pytest.fixture(scope="session")
def stream_stack(settings: Settings):
    """Only the servers the change stream needs (PostgreSQL, Kafka, Kafka Connect), migrated.

    Started if needed and stopped again at the end only if this session started them (like the
    shared ``stack`` fixture, which starts every target as well).
    """
    from aegis.db.migrate import migrate
    from devstack.manager import StackManager

    manager = StackManager(settings)
    was_running = {s.name for s in manager.status(STREAM_SERVICES) if s.healthy}
    manager.up(STREAM_SERVICES, progress=lambda line: print(f"[stack] {line}"))
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        migrate(conn, settings.postgres)
    yield settings
    started_here = [name for name in STREAM_SERVICES if name not in was_running]
    if started_here and os.environ.get("AEGIS_TEST_KEEP_STACK") != "1":
        manager.down(started_here, progress=lambda line: print(f"[stack] {line}"))


@pytest.fixture()
def reader_factory(stream_stack):
    readers: list[TopicReader] = []

    def make(settings: Settings, topic: str) -> TopicReader:
        reader = TopicReader(settings, topic)
        readers.append(reader)
        return reader
    yield make
    for reader in readers:
        reader.close()
