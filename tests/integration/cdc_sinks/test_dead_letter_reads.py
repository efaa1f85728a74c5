"""Bounded reads of the dead-letter topic (cdc_sinks/dlq.py, `aegis dlq list`): the count comes
from the watermarks alone, a page reads at most --limit messages and names where the next one
starts, and nothing claims the end before it was reached. On a dead-letter topic of its own."""

from __future__ import annotations

import json
import secrets

import pytest
from click.testing import CliRunner
from confluent_kafka import Producer

from aegis.errors import AegisError, ErrorCode
from aegis.settings import Settings
from cdc_sinks.batching import ConsumedMessage
from cdc_sinks import dlq
from cdc_sinks.dlq import count_dead_letters, error_headers, read_dead_letters, read_page, read_refs
from console.cli import cli
from testkit.streams import delete_topics
from tests.conftest import running_stack

pytestmark = pytest.mark.integration

LETTERS = 23


@pytest.fixture(scope="module")
def dlq_settings(settings: Settings):
    with running_stack(settings, ["kafka"]):
        topic = f"dlq-reads-{secrets.token_hex(3)}"
        own = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"topic_dlq": topic})})
        producer = Producer({"bootstrap.servers": own.kafka.bootstrap_servers, "acks": "all"})
        for i in range(LETTERS):
            sink = "redis" if i % 2 else "search"
            message = ConsumedMessage(topic="aegis.public.policies", partition=0, offset=1000 + i,
                                      key=f'{{"id": {i}}}'.encode(), value=b"{not json", timestamp_ms=None, headers=())
            error = AegisError(f"poison {i}", code=ErrorCode.INVALID_DATA_FORMAT)
            producer.produce(topic, key=message.key, value=message.value, headers=error_headers(sink, message, error))
        assert producer.flush(30) == 0
        try:
            yield own
        finally:
            delete_topics(own, [topic])


def test_the_count_comes_from_the_watermarks(dlq_settings: Settings):
    count = count_dead_letters(dlq_settings.kafka)
    assert count.total == LETTERS and count.partitions == {0: (0, LETTERS)}


def test_pages_cover_the_topic_once_and_only_the_last_says_complete(dlq_settings: Settings):
    seen, start, pages = [], None, 0
    while True:
        page = read_page(dlq_settings.kafka, start=start, limit=10)
        pages += 1
        assert page.read == len(page.letters) <= 10 and page.total == LETTERS and not page.stalled
        seen += [d.dlq_offset for d in page.letters]
        if page.complete:
            break
        start = page.next
    assert pages == 3 and seen == list(range(LETTERS))
    assert [d.dlq_offset for d in read_dead_letters(dlq_settings.kafka, page_size=7)] == list(range(LETTERS))


def test_a_sink_filter_still_counts_what_it_read(dlq_settings: Settings):
    page = read_page(dlq_settings.kafka, limit=10, sink="redis")
    assert page.read == 10 and {d.sink for d in page.letters} == {"redis"} and len(page.letters) == 5
    assert not page.complete and page.next == {0: 10}


def test_exact_refs_are_read_alone(dlq_settings: Settings):
    found = read_refs(dlq_settings.kafka, [(0, 4), (0, 999)])
    assert list(found) == [(0, 4)] and found[(0, 4)].error_message == "poison 4"


@pytest.mark.parametrize("gap", [dlq.READ_THROUGH_GAP, 2])  # read through, or seek across most gaps
def test_many_refs_are_read_in_one_pass_in_any_order(dlq_settings: Settings, monkeypatch, gap: int):
    monkeypatch.setattr(dlq, "READ_THROUGH_GAP", gap)
    found = read_refs(dlq_settings.kafka, [(0, o) for o in (22, 3, 3, 0, 9, 17, 999, 10)])
    assert sorted(found) == [(0, 0), (0, 3), (0, 9), (0, 10), (0, 17), (0, 22)]
    assert all(letter.error_message == f"poison {offset}" for (_, offset), letter in found.items())


def test_the_cli_pages_and_names_the_next_page(dlq_settings: Settings):
    env = {"KAFKA_TOPIC_DLQ": dlq_settings.kafka.topic_dlq}
    first = CliRunner().invoke(cli, ["dlq", "list", "--limit", "5"], env=env)
    assert first.exit_code == 0, first.output
    assert "read 5 of the 23 dead letter(s)" in first.stderr and "aegis dlq list --from 0:5" in first.stderr
    assert [line.split()[0] for line in first.stdout.splitlines()[1:]] == [f"0:{i}" for i in range(5)]
    last = CliRunner().invoke(cli, ["dlq", "list", "--from", "0:20", "--limit", "5", "--json"], env=env)
    lines = [json.loads(line) for line in last.stdout.splitlines()]
    assert [d["ref"] for d in lines[:-1]] == ["0:20", "0:21", "0:22"]
    assert lines[-1]["page"] == {"read": 3, "shown": 3, "total": 23, "complete": True, "stalled": False, "next": None}
    newest = CliRunner().invoke(cli, ["dlq", "list", "--newest", "--limit", "4", "--json"], env=env)
    assert [json.loads(line).get("ref") for line in newest.stdout.splitlines()] == ["0:19", "0:20", "0:21", "0:22", None]
    missing = CliRunner().invoke(cli, ["dlq", "show", "0:999"], env=env)
    assert missing.exit_code == 2 and "no dead letter 0:999" in missing.output
