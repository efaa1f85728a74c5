"""The sink conformance suite, unchanged, with the Avro profile.

It runs in a pytest process of its own (its settings are read from the environment), against an
isolated connector in the Avro profile — own slot, publication, change topic and dead-letter topic,
CHANGE_EVENTS_FORMAT=avro for the connector, the sinks and the suite's own checks — so the connector
every other suite uses stays JSON and dead letters of other runs never mix in. What the suite
proves for JSON it then proves for Avro: create/update/delete/tombstone, status flips, duplicates
and replays, poison messages to the DLQ, a target outage under load and a SIGKILL mid-batch.

Which sinks: ``AEGIS_AVRO_CONFORMANCE_SINKS`` (default ``redis``: the decoder is the part under test
and is shared by every sink; ``all`` runs every sink the suite knows). The suite's own cost knobs
pass through; unless set, this run uses a 10 s outage and 600 changes for the SIGKILL test
(``AEGIS_CONFORMANCE_OUTAGE_SECONDS``, ``AEGIS_CONFORMANCE_LOAD``) to stay within CI's budget.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit.streams import delete_topics, isolated_env, isolated_settings, stream_topics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "tests" / "integration" / "cdc_sinks" / "conformance"


@pytest.mark.timeout(1800)  # the whole suite in a child process; its own tests keep their own timeouts
def test_the_sink_conformance_suite_passes_with_the_avro_profile(schema_registry, tmp_path):
    from connectors.manage import delete_connector

    settings = isolated_settings(schema_registry, f"conf{secrets.token_hex(3)}", change_format="avro")
    env = {**os.environ, **isolated_env(settings), "AEGIS_TEST_KEEP_STACK": "1"}
    env.setdefault("AEGIS_CONFORMANCE_OUTAGE_SECONDS", "10")
    env.setdefault("AEGIS_CONFORMANCE_LOAD", "600")
    sinks = os.environ.get("AEGIS_AVRO_CONFORMANCE_SINKS", "redis")
    if sinks == "all":
        env.pop("AEGIS_CONFORMANCE_SINKS", None)
    else:
        env["AEGIS_CONFORMANCE_SINKS"] = sinks
    log = tmp_path / "conformance-avro.log"
    _create_change_topic(settings)  # the harness starts its groups at the topic's end: it must exist
    try:
        with log.open("w") as out:
            result = subprocess.run([sys.executable, "-m", "pytest", str(SUITE), "-m", "integration", "-q", "-rA",
                                     "-p", "no:cacheprovider"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    timeout=1800)
        framed, total = _count_framed(settings)
    finally:
        delete_connector(settings, drop_replication=True)
        delete_topics(settings, stream_topics(settings))
    output = log.read_text()
    failures = output.find("= FAILURES =")
    shown = [line for line in output[max(failures, 0):].splitlines() if not line.startswith("INFO ")]
    print("\n".join(shown)[-12000:])  # the failures first (without the sinks' per-batch log lines)
    summary = output.strip().splitlines()[-1]
    passed = int(m[1]) if (m := re.search(r"(\d+) passed", summary)) else 0
    errors = [line for line in output.splitlines() if line.startswith("E ")][:20]
    assert result.returncode == 0, (f"the conformance suite failed with the Avro profile: {summary}\n"
                                    + "\n".join(errors))
    assert passed > 0 and "skipped" not in summary and "deselected" not in summary, summary
    # The suite really ran on Avro: every change it made is on the isolated topic, Avro-framed
    # (only its deliberate poison messages are not).
    assert total > 100 and framed >= total - 10, f"{framed} of {total} change messages are Avro-framed"


def _create_change_topic(settings) -> None:
    """The isolated change topic, as Debezium would create it (compacted); a fresh connector with
    snapshot mode no_data creates it only with its first change."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({**settings.kafka.client_config()})
    topic = settings.sinks.topic(settings.kafka)
    futures = admin.create_topics([NewTopic(topic, num_partitions=settings.kafka.change_topic_partitions,
                                            replication_factor=-1,
                                            config={"cleanup.policy": "compact"})], operation_timeout=30)
    futures[topic].result(timeout=60)


def _count_framed(settings) -> tuple[int, int]:
    """How many values on the isolated change topic are Avro-framed, of how many (tombstones aside)."""
    from confluent_kafka import Consumer, TopicPartition

    from aegis.changestream.avro_wire import looks_framed

    topic = settings.sinks.topic(settings.kafka)
    consumer = Consumer({**settings.kafka.client_config(), "enable.auto.commit": False,
                         "group.id": f"avro-conformance-count-{secrets.token_hex(4)}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        framed = total = 0
        for partition in partitions:
            end = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            consumer.assign([TopicPartition(topic, partition, 0)])
            position, deadline = 0, time.monotonic() + 60
            while position < end and time.monotonic() < deadline:
                for m in consumer.consume(num_messages=5000, timeout=1):
                    if m.error():
                        continue
                    position = m.offset() + 1
                    if m.value() is not None:
                        total += 1
                        framed += looks_framed(m.value())
        return framed, total
    finally:
        consumer.close()
