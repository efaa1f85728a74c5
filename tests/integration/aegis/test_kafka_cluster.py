"""The local stack's cluster profile for real: a private stack (own state directory, ports of the
session's stack + 600) of three KRaft nodes and two Kafka Connect workers, with its own PostgreSQL.

Checked with Kafka's and Connect's own APIs, never through our code: every node serves as itself;
the topics `aegis connectors apply` makes are replicated three ways with min.insync.replicas 2;
SIGKILL of the node leading a partition under steady acks=all production loses no acknowledged
message; SIGKILL of the Connect worker running the Debezium task moves the task to the other worker,
which resumes from the stored offsets: every row written reaches the change topic. The measured
convergence times are printed (bench/RESULTS.md, "Cluster profile").
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from aegis.changestream.event import decode_change
from aegis.db import connect
from aegis.db.migrate import migrate_database
from aegis.settings import Settings, load_settings
from devstack.kafka import Kafka, KafkaConnect
from devstack.manager import StackManager
from devstack.process import is_alive
from tests.stack_slot import check_ports_free

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OFFSET = 600  # the session stack's ports + 600 (lifecycle: 900, authenticated stack: 700, cold-start bench: 800)
SERVICES = ["postgres", "kafka", "kafka-2", "kafka-3", "kafka-connect", "kafka-connect-2"]
_INSERT = """
INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash, status)
SELECT %(source)s, %(source)s || '-' || n, '클러스터 ' || n, '내용', '기관', repeat('c', 64), 'active'
  FROM generate_series(%(first)s::int, %(last)s::int) AS n RETURNING id"""


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory, settings: Settings) -> dict[str, str]:
    state = tmp_path_factory.mktemp("cluster-stack")
    kafka = int(settings.kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)[1]) + OFFSET
    return {
        "AEGIS_STACK_STATE_DIR": str(state),
        "AEGIS_STACK_KAFKA_BROKERS": "3",
        "AEGIS_STACK_CONNECT_WORKERS": "2",
        "POSTGRES_PORT": str(settings.postgres.port + OFFSET),
        # every node listed, so a client made while one is down still finds the others
        "KAFKA_BOOTSTRAP_SERVERS": ",".join(f"127.0.0.1:{kafka + 2 * n}" for n in range(3)),
        "AEGIS_STACK_KAFKA_CONTROLLER_PORT": str(settings.stack.kafka_controller_port + OFFSET),
        "KAFKA_CONNECT_URL": f"http://127.0.0.1:{httpx.URL(settings.kafka.connect_url).port + OFFSET}",
        "METRICS_PORT": "0",
    }


@pytest.fixture(scope="module")
def cluster(cluster_env: dict[str, str], settings: Settings):
    mp = pytest.MonkeyPatch()
    for key, value in cluster_env.items():
        mp.setenv(key, value)
    try:
        private = load_settings(env_file=None)
    finally:
        mp.undo()
    for jars in settings.stack.state_path.glob("jars*"):  # the session stack's jars, if resolved already
        (private.stack.state_path / jars.name).symlink_to(jars.resolve(), target_is_directory=True)
    check_ports_free(private, SERVICES)
    manager = StackManager(private)
    try:
        started = time.monotonic()
        manager.up(SERVICES, progress=lambda line: print(f"[cluster] {line}"))
        print(f"[cluster] {len(SERVICES)} services up in {time.monotonic() - started:.1f} s")
        migrate_database(private.postgres)
        yield private
    finally:
        manager.down(SERVICES, progress=lambda line: print(f"[cluster] {line}"))


@pytest.fixture(scope="module")
def connector(cluster: Settings, cluster_env: dict[str, str]) -> Settings:
    """The Debezium connector applied with `aegis connectors apply` through the second worker (a
    follower forwards the write to the Connect leader), after one row exists (its snapshot makes
    the change topic)."""
    _insert(cluster, f"cluster-seed-{uuid.uuid4().hex[:6]}", 0, 0)
    second = KafkaConnect(cluster, 2).url
    result = subprocess.run([sys.executable, "-m", "console.cli", "connectors", "apply"],
                            env={**os.environ, **cluster_env, "KAFKA_CONNECT_URL": second},
                            capture_output=True, text=True, timeout=300)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    admin = AdminClient(cluster.kafka.client_config())
    topic = cluster.sinks.topic(cluster.kafka)
    deadline = time.monotonic() + 120
    while topic not in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{topic} was not created"
        time.sleep(0.5)
    return cluster


def _insert(settings: Settings, source: str, first: int, last: int) -> list[int]:
    with connect(settings.postgres, role="owner") as conn:
        ids = [r[0] for r in conn.execute(_INSERT, {"source": source, "first": first, "last": last}).fetchall()]
        conn.commit()
    return ids


def _sigkill(settings: Settings, name: str) -> int:
    pid = StackManager(settings).status([name])[0].pid
    assert pid is not None, f"{name} is not running"
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(pid)
    return pid


def _read_all(settings: Settings, topic: str, done, timeout: float) -> list:
    """Every message of every partition of ``topic`` from the beginning, until ``done(messages)``."""
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"cluster-it-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list = []
        deadline = time.monotonic() + timeout
        while not done(messages) and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.5):
                if message.error() is None:
                    messages.append(message)
        return messages
    finally:
        consumer.close()


def test_every_node_and_worker_serves_as_itself(cluster: Settings):
    statuses = StackManager(cluster).status(SERVICES)
    assert all(s.healthy and s.pid for s in statuses), statuses
    for node in (1, 2, 3):
        port = Kafka(cluster, node).port
        metadata = AdminClient({**cluster.kafka.client_config(), "bootstrap.servers": f"127.0.0.1:{port}"}
                               ).list_topics(timeout=10)
        assert sorted(metadata.brokers) == [1, 2, 3]
    for worker in (1, 2):
        info = httpx.get(KafkaConnect(cluster, worker).url, timeout=10).json()
        assert info["kafka_cluster_id"]
    workers = httpx.get(f"{KafkaConnect(cluster, 2).url}/connectors", timeout=10)
    assert workers.status_code == 200


def test_connectors_apply_makes_topics_replicated_three_ways_with_min_isr_two(connector: Settings):
    kafka = connector.kafka
    admin = AdminClient(kafka.client_config())
    topics = [connector.sinks.topic(kafka), kafka.topic_dlq,
              "_aegis_connect_configs", "_aegis_connect_offsets", "_aegis_connect_status", "__consumer_offsets"]
    metadata = admin.list_topics(timeout=10).topics
    for topic in topics:
        assert topic in metadata, topic
        for partition in metadata[topic].partitions.values():
            assert sorted(partition.replicas) == [1, 2, 3], (topic, partition.id, partition.replicas)
            assert sorted(partition.isrs) == [1, 2, 3], (topic, partition.id, partition.isrs)
    resources = [ConfigResource(ResourceType.TOPIC, t) for t in topics[:2]]
    for resource, future in admin.describe_configs(resources).items():
        assert future.result(timeout=15)["min.insync.replicas"].value == "2", resource.name


def test_sigkill_of_a_partition_leader_loses_no_acknowledged_message(cluster: Settings):
    kafka = cluster.kafka
    admin = AdminClient(kafka.client_config())
    topic = f"cluster-acks-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=-1)])[topic].result(timeout=30)
    acked: dict[int, float] = {}
    failed: dict[int, str] = {}
    consumed: list[int] = []
    stop = threading.Event()
    stopped_at = [float("inf")]

    def produce() -> None:
        producer = Producer({**kafka.client_config(), "acks": "all", "enable.idempotence": True, "linger.ms": 5})

        def delivered(err, message) -> None:
            seq = int(message.value())
            if err is None:
                acked[seq] = time.monotonic()
            else:
                failed[seq] = str(err)
        seq = 0
        while not stop.is_set():
            producer.produce(topic, key=str(seq % 97).encode(), value=str(seq).encode(), on_delivery=delivered)
            producer.poll(0)
            seq += 1
            time.sleep(0.005)
        assert producer.flush(120) == 0

    def consume() -> None:
        consumer = Consumer({**kafka.client_config(), "group.id": f"cluster-it-{topic}",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        try:
            while not stop.is_set() or not set(acked) <= set(consumed):
                for message in consumer.consume(500, timeout=0.5):
                    if message.error() is None:
                        consumed.append(int(message.value()))
                if stop.is_set() and time.monotonic() > stopped_at[0] + 90:
                    return
        finally:
            consumer.close()

    producer_thread = threading.Thread(target=produce, daemon=True)
    consumer_thread = threading.Thread(target=consume, daemon=True)
    producer_thread.start()
    consumer_thread.start()
    try:
        time.sleep(5)
        leader = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader
        victim = Kafka(cluster, leader).name
        survivors = ",".join(f"127.0.0.1:{Kafka(cluster, n).port}" for n in (1, 2, 3) if n != leader)
        killed_at = time.monotonic()
        _sigkill(cluster, victim)
        moved = None
        while moved is None and time.monotonic() < killed_at + 60:
            if _leader(kafka, survivors, topic) not in (leader, -1, None):
                moved = time.monotonic() - killed_at
            time.sleep(0.1)
        statuses = {s.name: s.healthy for s in StackManager(cluster).status(["kafka", "kafka-2", "kafka-3"])}
        time.sleep(10)  # production goes on under the new leader
    finally:
        stop.set()
        stopped_at[0] = time.monotonic()
    producer_thread.join(150)
    consumer_thread.join(150)

    gap = max(b - a for a, b in zip(sorted(acked.values()), sorted(acked.values())[1:], strict=False))
    print(f"\nleader of partition 0 was node {leader} ({victim}); leadership moved {moved:.1f} s after the "
          f"SIGKILL; {len(acked)} messages acknowledged, {len(failed)} failed; longest pause between two "
          f"acknowledgements {gap:.1f} s")
    StackManager(cluster).up([victim], progress=lambda line: print(f"[cluster] {line}"))

    assert moved is not None, "no new leader within 60 s"
    assert statuses == {n: n != victim for n in statuses}  # the killed node is reported down, the others healthy
    assert not failed, list(failed.items())[:5]
    assert set(acked) <= set(consumed), f"{len(set(acked) - set(consumed))} acknowledged messages never consumed"
    log = _read_all(cluster, topic, lambda messages: len(messages) >= len(acked), timeout=60)
    counts = collections.Counter(int(m.value()) for m in log)
    assert {seq for seq in acked if counts[seq] != 1} == set(), "acknowledged messages missing or duplicated in the log"
    assert all(s.healthy for s in StackManager(cluster).status(["kafka", "kafka-2", "kafka-3"]))


def _leader(kafka, bootstrap: str, topic: str) -> int | None:
    """Partition 0's leader as the nodes at ``bootstrap`` see it (a new client: none of its
    connections goes to the killed node first)."""
    try:
        metadata = AdminClient({**kafka.client_config(), "bootstrap.servers": bootstrap}).list_topics(topic, timeout=2)
    except KafkaException:
        return None
    return metadata.topics[topic].partitions[0].leader


def _task(url: str, name: str) -> dict | None:
    try:
        response = httpx.get(f"{url}/connectors/{name}/status", timeout=5)
    except httpx.HTTPError:
        return None
    tasks = response.json().get("tasks", []) if response.status_code == 200 else []
    return tasks[0] if tasks else None


def test_sigkill_of_the_worker_running_the_debezium_task_moves_it_and_loses_no_row(connector: Settings):
    name = connector.connector.name
    workers = {f"127.0.0.1:{w.port}": w for w in (KafkaConnect(connector, 1), KafkaConnect(connector, 2))}
    deadline = time.monotonic() + 120
    while (task := _task(connector.kafka.connect_url, name)) is None or task["state"] != "RUNNING":
        assert time.monotonic() < deadline, f"task not running: {task}"
        time.sleep(0.5)
    running_on = workers[task["worker_id"]]
    survivor = next(w for w in workers.values() if w is not running_on)

    source = f"cluster-task-{uuid.uuid4().hex[:6]}"
    written: list[int] = []
    failure: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            n = 0
            while not stop.is_set():
                written.extend(_insert(connector, source, n, n + 9))
                n += 10
                time.sleep(0.1)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failure.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        time.sleep(3)
        killed_at = time.monotonic()
        _sigkill(connector, running_on.name)
        moved = None
        while moved is None and time.monotonic() < killed_at + 180:
            task = _task(survivor.url, name)
            if task and task["state"] == "RUNNING" and task["worker_id"] == f"127.0.0.1:{survivor.port}":
                moved = time.monotonic() - killed_at
            time.sleep(0.25)
        time.sleep(5)  # rows go on being written after the task moved
    finally:
        stop.set()
    writer.join(60)
    assert not failure, failure
    assert moved is not None, f"the task did not move to {survivor.name} within 180 s: {task}"

    ours = set(written)
    seen: set[int] = set()
    decoded = [0]
    caught_up: list[float] = []

    def all_rows_arrived(messages) -> bool:  # decodes each message once
        for message in messages[decoded[0]:]:
            if message.value() is not None:
                event = decode_change(message.key(), message.value())
                if event.policy_id in ours:
                    seen.add(event.policy_id)
        decoded[0] = len(messages)
        if ours <= seen and not caught_up:
            caught_up.append(time.monotonic() - killed_at)
        return ours <= seen

    _read_all(connector, connector.sinks.topic(connector.kafka), all_rows_arrived, timeout=180)
    print(f"\nDebezium task ran on {running_on.name}; after its SIGKILL it was RUNNING on {survivor.name} "
          f"{moved:.1f} s later; {len(ours)} rows written across the move, {len(ours & seen)} on the change topic "
          f"(all read by {caught_up[0] if caught_up else float('nan'):.1f} s after the SIGKILL)")
    StackManager(connector).up([running_on.name], progress=lambda line: print(f"[cluster] {line}"))

    assert ours <= seen, f"{len(ours - seen)} rows never reached the change topic: {sorted(ours - seen)[:10]}"
    assert len(ours) > 100
