"""The cluster profile's faults (AEGIS_STACK_KAFKA_BROKERS=3, AEGIS_STACK_CONNECT_WORKERS=2): SIGKILL
of the Kafka node leading the change topic, and of the Connect worker running the Debezium task.

Both are found and watched with Kafka's and Connect's own APIs (partition metadata, the
connector's status), and both end when the stream runs again without the killed process *and*
that process is back (started again, healthy): the next fault starts from a whole cluster.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import httpx
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from aegis.settings import Settings
from devstack.kafka import Kafka, KafkaConnect
from devstack.manager import StackManager
from devstack.process import is_alive

Say = Callable[[str], None]


def sigkill(stack: StackManager, name: str) -> None:
    """SIGKILL the process group of the stack's service ``name`` and wait until it is gone."""
    pid = stack.status([name])[0].pid
    if pid is None:
        raise RuntimeError(f"{name} is not running")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _leader(settings: Settings, topic: str, bootstrap: str | None = None) -> int | None:
    """Partition 0's leader as seen by the nodes at ``bootstrap`` (a new client each time, so no
    request waits on a connection to a killed node)."""
    config = settings.kafka.client_config()
    if bootstrap:
        config["bootstrap.servers"] = bootstrap
    try:
        metadata = AdminClient(config).list_topics(topic, timeout=3)
    except KafkaException:
        return None
    partitions = metadata.topics[topic].partitions if topic in metadata.topics else {}
    return partitions[0].leader if 0 in partitions else None


def kill_change_topic_leader(settings: Settings, stack: StackManager, say: Say, timeout: float = 120.0) -> None:
    """SIGKILL the node leading partition 0 of the change topic, wait for a new leader, start it again."""
    topic = settings.sinks.topic(settings.kafka)
    leader = _leader(settings, topic)
    if leader is None or leader < 1:
        raise RuntimeError(f"{topic} has no leader to kill")
    victim = Kafka(settings, leader)
    others = ",".join(f"127.0.0.1:{Kafka(settings, n).port}" for n in range(1, victim.nodes + 1) if n != leader)
    killed = time.monotonic()
    sigkill(stack, victim.name)
    while _leader(settings, topic, others) in (leader, -1, None):
        if time.monotonic() > killed + timeout:
            raise RuntimeError(f"{topic}: no new leader {timeout:.0f} s after {victim.name} was killed")
        time.sleep(0.2)
    say(f"{topic} partition 0: {victim.name} killed, new leader after {time.monotonic() - killed:.1f} s")
    stack.up([victim.name], progress=say)


def _task(url: str, connector: str) -> dict | None:
    try:
        response = httpx.get(f"{url}/connectors/{connector}/status", timeout=5)
    except httpx.HTTPError:
        return None
    tasks = response.json().get("tasks", []) if response.status_code == 200 else []
    return tasks[0] if tasks else None


def kill_task_worker(settings: Settings, stack: StackManager, say: Say, timeout: float = 180.0) -> None:
    """SIGKILL the Connect worker running the connector's task, wait until the task runs on another
    worker, start the killed one again."""
    connector = settings.connector.name
    workers = {f"127.0.0.1:{w.port}": w for w in (KafkaConnect(settings, n)
                                                 for n in range(1, settings.stack.connect_workers + 1))}
    task = next((t for t in (_task(w.url, connector) for w in workers.values()) if t), None)
    if task is None or task.get("worker_id") not in workers:
        raise RuntimeError(f"{connector}: no running task found on the local workers: {task}")
    victim = workers[task["worker_id"]]
    killed = time.monotonic()
    sigkill(stack, victim.name)
    while True:
        moved = [w for w in workers.values() if w is not victim and (t := _task(w.url, connector))
                 and t["state"] == "RUNNING" and t["worker_id"] == f"127.0.0.1:{w.port}"]
        if moved:
            break
        if time.monotonic() > killed + timeout:
            raise RuntimeError(f"{connector}: its task did not run elsewhere {timeout:.0f} s after {victim.name} "
                               "was killed")
        time.sleep(0.25)
    say(f"{connector}: {victim.name} killed, task RUNNING on {moved[0].name} after {time.monotonic() - killed:.1f} s")
    stack.up([victim.name], progress=say)
