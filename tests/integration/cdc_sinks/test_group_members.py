"""Several processes of one sink share the change topic's partitions as one consumer group.

Under a steady load of inserts, updates, archivals, reactivations and deletes on a change topic
of six partitions: one Redis sink process starts alone, a second joins mid-load, the first is
SIGKILLed mid-load (its partitions move to the survivor without a commit), a third joins. Then
Redis, read with its own client, must hold exactly PostgreSQL's active policies of the load —
no policy lost, none extra, every content hash equal — each at the LSN of its newest change
event on the topic (no stale write survived the moves), and nothing was dead-lettered.
"""

from __future__ import annotations

import secrets
import threading
import time

import pytest

from aegis.changestream.groups import group_members, watermarks
from aegis.db import connect
from aegis.settings import Settings
from cdc_sinks.topic_reader import Stretch
from testkit.load import Generator, run_load
from testkit.streams import change_topic, isolated_env, isolated_settings, isolated_stream
from testkit.targets import RedisReader, SinkProcess, newest_events, wait_equal_to_postgres, wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 6
MIX = {"insert": 0.3, "update": 0.4, "deactivate": 0.1, "reactivate": 0.1, "delete": 0.1}


def _holders(settings: Settings, group: str) -> list[tuple[int, ...]]:
    """The partitions each member of ``group`` holds (members holding none included)."""
    _state, members = group_members(settings.kafka, group, change_topic(settings))
    return [m.partitions for m in members]


def _spread_over(settings: Settings, group: str, count: int) -> bool:
    """``count`` members hold every partition between them, each a share, none twice."""
    held = _holders(settings, group)
    flat = [p for partitions in held for p in partitions]
    return len(held) == count and all(held) and sorted(flat) == list(range(PARTITIONS))


@pytest.mark.timeout(600)
def test_members_joining_and_dying_mid_load_lose_nothing_and_write_nothing_stale(stack: Settings, tmp_path):
    tag = secrets.token_hex(3)
    settings = isolated_settings(stack, f"grp{tag}")
    settings = settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={"change_topic_partitions": PARTITIONS}),
        "sinks": settings.sinks.model_copy(update={"group_id_prefix": f"grp-{tag}-",
                                                   "redis_key_prefix": f"grp-{tag}:policy:"})})
    group = f"{settings.sinks.group_id_prefix}redis"
    env = {**isolated_env(settings), "SINKS_GROUP_ID_PREFIX": settings.sinks.group_id_prefix,
           "SINKS_REDIS_KEY_PREFIX": settings.sinks.redis_key_prefix, "SINKS_BATCH_SIZE": "50"}
    source = f"group-members-{tag}"
    members: list[SinkProcess] = []
    reader = RedisReader(settings)

    def member(n: int) -> SinkProcess:
        process = SinkProcess("redis", env, tmp_path / f"member-{n}.log", metrics_port=0)
        members.append(process)
        return process

    def logs() -> str:
        return "\n".join(f"--- {m.log.name}\n{m.log.read_text()[-2000:]}" for m in members)

    load: threading.Thread | None = None
    try:
        with isolated_stream(settings):
            try:
                first = member(1)
                wait_until(lambda: _spread_over(settings, group, 1), 90,
                      f"the first member to hold all partitions\n{logs()}")

                generator = Generator(source, [], {}, MIX, rest=3.0)
                result: dict = {}
                load = threading.Thread(target=lambda: result.update(done=run_load(settings, generator, [], rate=40,
                                                                                   seconds=40, writers=2)))
                load.start()
                time.sleep(6)
                member(2)
                wait_until(lambda: _spread_over(settings, group, 2), 60,
                           f"two members sharing the partitions\n{logs()}")
                time.sleep(6)
                first.process.kill()  # SIGKILL: no revoke, no commit; its partitions move after the session timeout
                first.process.wait(30)
                wait_until(lambda: _spread_over(settings, group, 1), 60,
                           f"the survivor to take every partition\n{logs()}")
                member(3)
                wait_until(lambda: _spread_over(settings, group, 2), 60, f"a third member to take a share\n{logs()}")
                load.join(120)
                assert not load.is_alive() and "done" in result, "the load did not finish"
                changes, _rate = result["done"]
                assert changes >= 1000, f"only {changes} changes were made"

                active = wait_equal_to_postgres(settings, reader, source, context=logs)
                assert active > 50
                removed = [i for i, (_, gone) in newest_events(settings).items() if gone]
                assert removed, "the load removed no policy: the test proves less than it says"
                assert all(m.alive() for m in members[1:]), logs()
                dead = watermarks(settings.kafka, settings.kafka.topic_dlq)
                assert sum(high - low for low, high in dead.values()) == 0, "a change was dead-lettered"
                _replays_land_where_debezium_put_them(settings, tag)
            finally:  # while the topic exists: a member stopping commits what it wrote
                for process in members:
                    if process.alive():
                        process.stop(60)
    finally:
        if load is not None:
            load.join(120)  # its writes end before the clean-up, else a failed test leaves rows behind
        reader.sink.client.delete(*reader.sink.client.keys(f"grp-{tag}:*") or [f"grp-{tag}:none"])
        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            conn.execute("DELETE FROM policies WHERE source_system = %s", (source,))


def _replays_land_where_debezium_put_them(settings: Settings, tag: str) -> None:
    """Our producer (a dead-letter replay) hashes a key to the partition Debezium's Java producer chose."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from cdc_sinks.dlq import _producer

    topic = change_topic(settings)
    marks = watermarks(settings.kafka, topic)
    debezium = {m.key(): m.partition() for m in Stretch(settings.kafka, topic, {p: lo for p, (lo, _) in marks.items()},
                                                        {p: hi for p, (_, hi) in marks.items()})}
    assert len(set(debezium.values())) == PARTITIONS, "the load did not reach every partition"
    scratch = f"grp-{tag}-partitioner"
    admin = AdminClient(settings.kafka.client_config())
    admin.create_topics([NewTopic(scratch, num_partitions=PARTITIONS, replication_factor=-1)])[scratch].result(30)
    try:
        producer, ours = _producer(settings.kafka), {}

        def delivered(_error, message) -> None:
            ours[message.key()] = message.partition()

        for key in debezium:
            producer.produce(scratch, key=key, value=b"", on_delivery=delivered)
        assert producer.flush(30) == 0
        assert ours == debezium, f"{sum(ours[k] != p for k, p in debezium.items())} of {len(debezium)} keys elsewhere"
    finally:
        admin.delete_topics([scratch])
