"""Poison records produced on the change topic at a steady pace (the records: ``testkit.envelopes.poison_record``)."""

from __future__ import annotations

import time

from confluent_kafka import Producer

from aegis.settings import Settings
from testkit.envelopes import poison_record


def produce_poison(settings: Settings, topic: str, count: int, seconds: float) -> set[tuple[int, int]]:
    """Produce ``count`` poison records spread over ``seconds``; their (partition, offset)s."""
    producer = Producer({**settings.kafka.client_config(), "acks": "all"})
    delivered: set[tuple[int, int]] = set()
    failures: list[str] = []

    def on_delivery(err, msg) -> None:
        if err is not None:
            failures.append(str(err))
        else:
            delivered.add((msg.partition(), msg.offset()))

    started = time.monotonic()
    for n in range(count):
        time.sleep(max(0.0, started + n * seconds / count - time.monotonic()))
        key, value = poison_record(n)
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        raise AssertionError(f"poison records not acknowledged: {remaining} pending, errors {failures[:3]}")
    return delivered
