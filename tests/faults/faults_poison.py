"""Poison records: messages on the change topic no sink can apply, each of which must be dead-lettered.

Six kinds, in turn: a value that is not JSON, truncated JSON, an envelope without a known op, a key
without an id, and an ``after`` row that violates the policy model (a non-integer id; required
fields missing). Their keys use ids far above any real policy, so they never touch a real record.
"""

from __future__ import annotations

import json
import time

from confluent_kafka import Producer

from aegis.settings import Settings

POISON_ID_BASE = 2_000_000_000


def poison_record(n: int) -> tuple[bytes, bytes]:
    """The ``n``-th poison record (key, value)."""
    policy_id = POISON_ID_BASE + n
    key = json.dumps({"id": policy_id}).encode()
    source = {"lsn": 1, "ts_ms": 0}
    kind = n % 6
    if kind == 0:
        return key, b"\x00\x01 not json " + str(n).encode()
    if kind == 1:
        return key, f'{{"op": "c", "after": {{"id": {policy_id}'.encode()
    if kind == 2:
        return key, json.dumps({"op": "x", "after": None, "n": n}).encode()
    if kind == 3:
        return json.dumps({"no_id": n}).encode(), b"{}"
    if kind == 4:
        return key, json.dumps({"op": "u", "before": None, "after": {"id": f"x{n}", "status": "active"},
                                "source": source}).encode()
    return key, json.dumps({"op": "c", "before": None, "after": {"id": policy_id, "status": "active"},
                            "source": source}).encode()


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
