"""The local stack's cluster profile, as configured (no server started): three KRaft nodes and two
Connect workers when asked for, and exactly today's single node and single worker by default. The
servers themselves are exercised by tests/integration/aegis/test_kafka_cluster.py."""

from __future__ import annotations

import sys

import pytest

from aegis.errors import ConfigError
from aegis.settings import load_settings
from devstack.base import Service
from devstack.kafka import Kafka, KafkaConnect
from devstack.manager import StackManager


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CONNECT_URL", "AEGIS_STACK_KAFKA_CONTROLLER_PORT",
                 "AEGIS_STACK_KAFKA_BROKERS", "AEGIS_STACK_CONNECT_WORKERS", "AEGIS_STACK_KAFKA_HEAP",
                 "AEGIS_STACK_CONNECT_HEAP", "KAFKA_SECURITY_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AEGIS_STACK_STATE_DIR", str(tmp_path / "state"))
    return monkeypatch


def _properties(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def _server(service: Kafka) -> dict[str, str]:
    service.dir.mkdir(parents=True, exist_ok=True)
    return _properties(service.server_properties())


def _worker(service: KafkaConnect) -> dict[str, str]:
    service.dir.mkdir(parents=True, exist_ok=True)
    service.command()  # writes the worker's properties file
    return _properties(service.dir / "connect-distributed.properties")


def _kafka_services(settings) -> list[Service]:
    return [s for s in StackManager(settings).services if s.name.startswith("kafka")]


def test_the_defaults_are_one_node_and_one_worker_as_before(env):
    settings = load_settings(env_file=None)
    services = _kafka_services(settings)
    assert [(s.name, s.port) for s in services] == [("kafka", 29092), ("kafka-connect", 28083)]
    kafka, connect = services
    server = _server(kafka)
    assert server["node.id"] == "1" and server["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert server["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert {server[k] for k in ("default.replication.factor", "offsets.topic.replication.factor",
                                "transaction.state.log.replication.factor", "min.insync.replicas",
                                "transaction.state.log.min.isr")} == {"1"}
    assert kafka.heap() == "1g" and connect.heap() == "1g"
    worker = _worker(connect)
    assert worker["bootstrap.servers"] == "127.0.0.1:29092" and worker["listeners"] == "http://127.0.0.1:28083"
    assert {worker[f"{k}.storage.replication.factor"] for k in ("config", "offset", "status")} == {"1"}
    assert "scheduled.rebalance.max.delay.ms" not in worker


def test_three_nodes_have_their_own_ports_one_quorum_and_replicate_three_ways(env):
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:39092")
    env.setenv("AEGIS_STACK_KAFKA_CONTROLLER_PORT", "39093")
    env.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    settings = load_settings(env_file=None)
    nodes = [s for s in _kafka_services(settings) if isinstance(s, Kafka)]
    assert [(n.name, n.port, n.controller_port) for n in nodes] == [
        ("kafka", 39092, 39093), ("kafka-2", 39094, 39095), ("kafka-3", 39096, 39097)]
    voters = "1@127.0.0.1:39093,2@127.0.0.1:39095,3@127.0.0.1:39097"
    for n, node in enumerate(nodes, start=1):
        server = _server(node)
        assert server["node.id"] == str(n) and server["controller.quorum.voters"] == voters
        assert server["listeners"] == f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
        assert server["log.dirs"].endswith(f"/{node.name}/data")
        assert server["default.replication.factor"] == server["offsets.topic.replication.factor"] == "3"
        assert server["transaction.state.log.replication.factor"] == "3"
        assert server["min.insync.replicas"] == server["transaction.state.log.min.isr"] == "2"
        assert node.heap() == "512m"
    assert len({node._cluster_id() for node in nodes}) == 1  # every node formatted with the one cluster id


def test_listed_bootstrap_addresses_name_the_nodes_ports(env):
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:39092,127.0.0.1:39192,127.0.0.1:39292")
    env.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    assert [s.port for s in _kafka_services(load_settings(env_file=None)) if isinstance(s, Kafka)] == [
        39092, 39192, 39292]


def test_two_workers_form_one_connect_cluster_on_three_brokers(env):
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:39092")
    env.setenv("KAFKA_CONNECT_URL", "http://127.0.0.1:38083")
    env.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    env.setenv("AEGIS_STACK_CONNECT_WORKERS", "2")
    settings = load_settings(env_file=None)
    assert [s.name for s in _kafka_services(settings)] == ["kafka", "kafka-2", "kafka-3", "kafka-connect",
                                                           "kafka-connect-2"]
    workers = [s for s in _kafka_services(settings) if isinstance(s, KafkaConnect)]
    assert [(w.port, w.url) for w in workers] == [(38083, "http://127.0.0.1:38083"), (38084, "http://127.0.0.1:38084")]
    props = [_worker(w) for w in workers]
    assert props[0]["group.id"] == props[1]["group.id"]
    assert props[0]["config.storage.topic"] == props[1]["config.storage.topic"]
    for worker in props:
        assert worker["bootstrap.servers"] == "127.0.0.1:39092,127.0.0.1:39094,127.0.0.1:39096"
        assert {worker[f"{k}.storage.replication.factor"] for k in ("config", "offset", "status")} == {"3"}
        assert worker["scheduled.rebalance.max.delay.ms"] == "10000"
    assert props[1]["listeners"] == "http://127.0.0.1:38084" and props[1]["rest.advertised.port"] == "38084"
    assert workers[0].heap() == "768m"


@pytest.mark.parametrize(("variable", "value"), [("AEGIS_STACK_KAFKA_BROKERS", "2"),
                                                 ("AEGIS_STACK_KAFKA_BROKERS", "0"),
                                                 ("AEGIS_STACK_CONNECT_WORKERS", "3")])
def test_other_counts_are_refused_naming_the_setting(env, variable, value):
    env.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings(env_file=None)


def test_set_heaps_win_over_the_sized_defaults(env):
    env.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    env.setenv("AEGIS_STACK_KAFKA_HEAP", "640m")
    env.setenv("AEGIS_STACK_CONNECT_HEAP", "600m")
    settings = load_settings(env_file=None)
    assert {s.heap() for s in _kafka_services(settings)} == {"640m", "600m"}


class _Member(Service):
    """A server 'started' before it is healthy (as a KRaft node before its quorum)."""

    name = "member"

    @property
    def port(self) -> int:
        return 1

    def check_installed(self) -> None: ...

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    def probe(self) -> bool:
        return False

    def probe_started(self) -> bool:
        return True


def test_the_manager_goes_on_when_started_and_status_stays_honest(env):
    settings = load_settings(env_file=None)
    member = _Member(settings)
    manager = StackManager(settings, services=[member])
    try:
        (status,) = manager.up()
        assert status.pid is not None and not status.healthy
    finally:
        manager.down()
    assert manager.status()[0].pid is None


def _format_as(node: Kafka, cluster_id: str) -> None:
    (node.dir / "data").mkdir(parents=True)
    (node.dir / "data" / "meta.properties").write_text(f"node.id={node.node}\ncluster.id={cluster_id}\nversion=1\n")


def test_storage_of_the_other_profile_is_refused_with_what_to_do(env):
    from aegis.errors import StackError

    single = Kafka(load_settings(env_file=None))
    _format_as(single, "single-node-id")
    env.setenv("AEGIS_STACK_KAFKA_BROKERS", "3")
    first = Kafka(load_settings(env_file=None), 1)
    with pytest.raises(StackError, match="formatted as a single node.*AEGIS_STACK_KAFKA_BROKERS=3"):
        first.prepare()

    (first.root / "kafka-cluster-id").write_text("single-node-id")  # as if it had been made a cluster member
    first._check_profile()  # a member of this cluster: fine
    env.setenv("AEGIS_STACK_KAFKA_BROKERS", "1")
    with pytest.raises(StackError, match="formatted as a node of three"):
        Kafka(load_settings(env_file=None)).prepare()
