"""Change-stream fixtures: the servers the stream needs, and Kafka topic readers (the helpers are in
``changestream_helpers``; each test's own connector is ``testkit.streams``)."""

from __future__ import annotations

import pytest

from aegis.settings import Settings
from changestream_helpers import TopicReader
from tests.conftest import running_stack

STREAM_SERVICES = ["postgres", "kafka", "kafka-connect"]


@pytest.fixture(scope="session")
def stream_stack(settings: Settings):
    """Only the servers the change stream needs (PostgreSQL, Kafka, Kafka Connect), migrated.

    Started if needed and stopped again at the end only if this session started them (like the
    shared ``stack`` fixture, which starts every target as well).
    """
    with running_stack(settings, STREAM_SERVICES) as running:
        yield running


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
