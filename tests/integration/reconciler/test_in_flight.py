"""Lag is not drift, and a marker outlives every change still in Kafka, against a real change stream.

A real change stream of this module's database (its own connector, slot and topics) feeds the
Redis sink; the sink is stopped, policies change, and one record is deleted from Redis by hand.
The pass lists the changed policies as in flight (not repaired) and the deleted one as drift
(repaired); once the sink runs again it delivers the rest, and a pass finds nothing to repair.
Then three policies are deleted: a pass with no marker retention purges the marker of the one no
event in Kafka names, and keeps the ones with a dead letter or a (replayed, older) change pending —
which the kept marker then refuses.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer
from reconciler_it import Aegis, listed

from cdc_sinks.registry import build_sink
from cdc_sinks.runtime import SinkRuntime
from testkit.native import NativeRedis
from testkit.policies import good_policy, insert_policy
from testkit.streams import change_topic, isolated_env, isolated_settings, isolated_stream

pytestmark = pytest.mark.integration


def run_sink_until(settings, done, timeout: float = 90.0) -> None:
    """Run the Redis sink in-process until ``done(sink)`` holds, then stop it (committing what it wrote)."""
    sink = build_sink("redis", settings)
    runtime = SinkRuntime(sink, settings)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            runtime.run()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done(sink):
            assert not errors, errors
            assert time.monotonic() < deadline, "the sink did not catch up in time"
            time.sleep(0.5)
    finally:
        runtime.stop()
        thread.join(60)
        sink.close()


def first_change_of(settings, policy_id: int):
    """The oldest message of ``policy_id`` on the change topic."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap_servers, "group.id": f"peek-{policy_id}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([change_topic(settings)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None and message.key() \
                    and json.loads(message.key()).get("id") == policy_id:
                return message
        raise AssertionError(f"no change of {policy_id} on the topic")
    finally:
        consumer.close()


def produce(settings, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers})
    producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def pending_consumed(settings) -> bool:
    from reconciler.inflight import _pending

    return _pending(settings, "redis").pending_messages == 0


def cached_hashes(sink) -> dict[int, str]:
    return {v.policy_id: v.content_hash for v in sink.read_back(0, 10_000)}


def test_changes_a_stopped_sink_has_not_applied_are_in_flight_not_drift(rsettings, reconcile_env, pg):
    tag = secrets.token_hex(3)
    settings = isolated_settings(rsettings, f"fly{tag}", change_format="json", database=rsettings.postgres.db,
                                 snapshot_mode="no_data")
    group_prefix = f"inflight-{tag}-"
    settings = settings.model_copy(update={"sinks": settings.sinks.model_copy(update={
        "group_id_prefix": group_prefix, "redis_key_prefix": f"fly{tag}:policy:", "batch_wait_ms": 50})})
    aegis = Aegis({**reconcile_env, **isolated_env(settings), "SINKS_GROUP_ID_PREFIX": group_prefix,
                   "SINKS_REDIS_KEY_PREFIX": settings.sinks.redis_key_prefix, "RECONCILE_DEEP_SLICES": "0"})
    with isolated_stream(settings):
        pg.execute("UPDATE policies SET status = 'archived' WHERE status = 'active'")  # earlier tests' rows
        ids = [insert_policy(pg, good_policy("bizinfo", f"fly-{tag}-{i}", status="active", quality_score=0.9,
                                             title=f"진행 중 변경 {tag} 지원사업 {i}")) for i in range(12)]

        def holds_postgres(sink) -> bool:
            rows = dict(pg.execute("SELECT id, content_hash FROM policies WHERE status = 'active'").fetchall())
            return cached_hashes(sink) == {i: h.strip() for i, h in rows.items()}

        run_sink_until(settings, holds_postgres)

        changed = ids[:4]
        for policy_id in changed:  # the sink is stopped: these changes wait in the topic
            pg.execute("UPDATE policies SET title = title || ' (개정)', content_hash = md5(random()::text) || "
                       "md5(random()::text) WHERE id = %s", (policy_id,))
        native = NativeRedis(settings)
        try:
            native.missing(ids[8])  # real drift, made by hand while the sink is stopped
        finally:
            native.close()

        code, report = aegis.report("--dry-run", "--target", "redis")
        assert listed(report, in_flight=True) == {("redis", "stale", i) for i in changed}
        assert listed(report) == {("redis", "missing", ids[8])}
        assert code == 1 and report["targets"][0]["in_flight"] == 4

        code, report = aegis.report("--target", "redis")
        [target] = report["targets"]
        assert code == 0 and target["status"] == "repaired", target
        assert [f["policy_id"] for f in report["fixes_applied"]] == [ids[8]]  # nothing in flight was repaired
        assert target["in_flight"] == 4 and target["repaired"] == 1

        run_sink_until(settings, holds_postgres)  # the stream delivers what was in flight
        code, report = aegis.report("--target", "redis")
        [target] = report["targets"]
        assert code == 0 and target["status"] == "consistent" and target["repaired"] == 0, target

        # Removal markers: purged once old, unless an event still in Kafka names the policy.
        gone, dead_lettered, pending = ids[9], ids[10], ids[11]
        pg.execute("DELETE FROM policies WHERE id = ANY(%s)", ([gone, dead_lettered, pending],))
        # Every event consumed and committed, not only the removals applied: a delete's tombstone still
        # pending would name `gone` too, and its marker would rightly be kept.
        run_sink_until(settings, lambda sink: holds_postgres(sink) and pending_consumed(settings))
        old_create = first_change_of(settings, pending)
        produce(settings, settings.kafka.topic_dlq, json.dumps({"id": dead_lettered}).encode(), b"{}")
        produce(settings, change_topic(settings), old_create.key(), old_create.value())  # pending for the sink
        purging = Aegis({**aegis.env, "RECONCILE_MARKER_RETENTION_SECONDS": "0"})
        code, report = purging.report("--target", "redis")
        [target] = report["targets"]
        assert code == 0 and target["markers_purged"] >= 1, json.dumps(target)
        native = NativeRedis(settings)
        try:
            markers = {i: native.client.hget(f"{native.prefix}{i}:v", "removed") for i in (gone, dead_lettered, pending)}
            assert markers == {gone: None, dead_lettered: "1", pending: "1"}, markers
            run_sink_until(settings, lambda sink: pending_consumed(settings))  # the old create arrives
            assert native.read(pending) is None  # refused by the marker the purge kept: not resurrected
        finally:
            native.close()
