"""Kafka (KRaft: one combined broker/controller, or the cluster profile's three) and Kafka Connect
distributed workers (one, or two forming one Connect cluster) with the Debezium PostgreSQL connector
plugin, run from jars resolved from Maven Central."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from aegis.errors import StackError
from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES
from aegis.settings import Settings
from devstack.base import port_open
from devstack.java import JavaService
from devstack.schema_registry import converter_plugin_path, install_avro_converter
from devstack.tls import local_ca_path, server_certificate

if TYPE_CHECKING:
    from confluent_kafka.admin import ClusterMetadata

DEBEZIUM_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
SCHEDULED_REBALANCE_DELAY_MS = 10_000


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def node_name(base: str, n: int) -> str:
    """The service name of the n-th member of a group: ``kafka``, ``kafka-2``, ``kafka-3``."""
    return base if n == 1 else f"{base}-{n}"


def broker_port(settings: Settings, node: int) -> int:
    """Client port of Kafka node ``node``: the node-th address of KAFKA_BOOTSTRAP_SERVERS if listed,
    else the first one's port + 2 (node - 1) (the odd ports between are the controllers')."""
    addresses = [a.strip() for a in settings.kafka.bootstrap_servers.split(",") if a.strip()]
    if node <= len(addresses):
        return _host_port(addresses[node - 1])[1]
    return _host_port(addresses[0])[1] + 2 * (node - 1)


def controller_port(settings: Settings, node: int) -> int:
    return settings.stack.kafka_controller_port + 2 * (node - 1)


def broker_addresses(settings: Settings) -> str:
    """Every local Kafka node's client address, comma-separated (what the Connect workers bootstrap from)."""
    return ",".join(f"127.0.0.1:{broker_port(settings, n)}" for n in range(1, settings.stack.kafka_brokers + 1))


class Kafka(JavaService):
    """One KRaft node, broker and controller in one process: node 1 of 1, or node n of the cluster profile's 3."""

    name = "kafka"

    def __init__(self, settings: Settings, node: int = 1):
        super().__init__(settings)
        self.node = node
        self.nodes = settings.stack.kafka_brokers
        self.name = node_name("kafka", node)
        # Stopped one by one, the last node would wait for a quorum that is gone (then be killed).
        self.stop_group = "kafka" if self.nodes > 1 else None

    @property
    def clustered(self) -> bool:
        return self.nodes > 1

    @property
    def port(self) -> int:
        return broker_port(self.settings, self.node)

    @property
    def controller_port(self) -> int:
        return controller_port(self.settings, self.node)

    def heap(self) -> str:
        return self.settings.stack.broker_heap

    def _replication(self) -> dict[str, str]:
        """Replication of the topics: none on one node; on three, every write on all three and
        acknowledged (acks=all) once two have it, so one node may die without losing an acknowledged write."""
        factor, isr = ("3", "2") if self.clustered else ("1", "1")
        return {
            "default.replication.factor": factor,
            "offsets.topic.replication.factor": factor,
            "offsets.topic.num.partitions": "1",
            "min.insync.replicas": isr,
            "transaction.state.log.replication.factor": factor,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": factor,
            "share.coordinator.state.topic.min.isr": isr,
        }

    def server_properties(self) -> Path:
        controller = self.controller_port
        kafka = self.settings.kafka
        client = kafka.security_protocol
        voters = ",".join(f"{n}@127.0.0.1:{controller_port(self.settings, n)}" for n in range(1, self.nodes + 1))
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(self.node),
            "controller.quorum.voters": voters,
            "listeners": f"{client}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"{client}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": f"{client}:{client},CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": client,
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            **self._replication(),
            "auto.create.topics.enable": "true",
            # A topic some client touches before Debezium creates it with its own limit (connectors/topics.py)
            # is auto-created with the broker's: then the largest change event must still fit.
            "message.max.bytes": str(CHANGE_MESSAGE_MAX_BYTES),
            "replica.fetch.max.bytes": str(CHANGE_MESSAGE_MAX_BYTES),
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
        }
        if kafka.uses_tls:
            # A certificate of the stack's own CA (devstack/tls.py): clients trust it through
            # KAFKA_SSL_CA_LOCATION, the broker too when it connects to itself.
            expected = local_ca_path(self.root)
            if kafka.ssl_ca_location is None or Path(kafka.ssl_ca_location).resolve() != expected.resolve():
                raise StackError(f"kafka: {kafka.security_protocol} on the local stack needs "
                                 f"KAFKA_SSL_CA_LOCATION={expected}",
                                 hint="the local broker's certificate is signed by the stack's own CA, made there")
            cert = server_certificate(self.root, self.name)
            keystore = self.dir / "keystore.pem"  # Kafka's PEM keystore: the key and its certificate chain in one file
            keystore.touch(mode=0o600)
            keystore.write_bytes(cert.key.read_bytes() + cert.certificate.read_bytes())
            properties.update({"ssl.keystore.type": "PEM", "ssl.keystore.location": str(keystore),
                               "ssl.truststore.type": "PEM", "ssl.truststore.location": str(cert.ca),
                               "ssl.client.auth": "none"})
        if kafka.uses_sasl:
            # SCRAM credentials live in the cluster metadata (added when the storage is formatted); the
            # broker authenticates to itself with the same user. The controller listener stays on loopback.
            mechanism = kafka.sasl_mechanism
            properties.update({
                "sasl.enabled.mechanisms": mechanism,
                "sasl.mechanism.inter.broker.protocol": mechanism,
                f"listener.name.{client.lower()}.{mechanism.lower()}.sasl.jaas.config":
                    kafka.java_client_properties()["sasl.jaas.config"],
            })
        return self.properties_file(properties, "server.properties")

    def _scram_argument(self) -> list[str]:
        """``--add-scram`` for the storage tool: the SASL user, created with the cluster."""
        kafka = self.settings.kafka
        if not kafka.uses_sasl:
            return []
        if kafka.sasl_mechanism == "PLAIN":
            raise StackError("kafka: the local broker authenticates SASL with SCRAM only (KAFKA_SASL_MECHANISM=PLAIN)",
                             hint="set KAFKA_SASL_MECHANISM=SCRAM-SHA-512")
        user = kafka.sasl_username or ""
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        if any(c in user + password for c in ',[]="\\ '):
            raise StackError("kafka: the local broker's SASL user and password must not contain "
                             ", [ ] = \" \\ or spaces",
                             hint="choose another KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD for the local stack")
        return ["--add-scram", f"{kafka.sasl_mechanism}=[name={user},password={password}]"]

    def prepare(self) -> None:
        super().prepare()
        props = self.server_properties()
        marker = self.dir / "sasl-user"
        wanted = self.settings.kafka.sasl_username if self.settings.kafka.uses_sasl else None
        if (self.dir / "data" / "meta.properties").exists():
            if wanted and (not marker.exists() or marker.read_text().strip() != wanted):
                raise StackError(f"kafka: the local broker's storage was formatted without SASL user {wanted!r}",
                                 hint=f"SCRAM users are created with the cluster: stop kafka and delete "
                                      f"{self.dir / 'data'} (its topics are lost), or run with the KAFKA_SASL_* "
                                      "settings it was made with")
            self._check_profile()
            return
        cluster_id = self._cluster_id()
        result = subprocess.run(
            [self.java(), "-cp", self.classpath(), f"-Dlog4j2.configurationFile={self.log4j_config()}",
             "-Xmx256m", "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props),
             "--ignore-formatted", *self._scram_argument()],
            capture_output=True, text=True)
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-2000:]
            if self.settings.kafka.sasl_password:
                output = output.replace(self.settings.kafka.sasl_password.get_secret_value(), "********")
            raise StackError(f"kafka: formatting the KRaft storage failed (exit {result.returncode})", hint=output)
        if wanted:
            marker.write_text(wanted)

    def _cluster_id(self) -> str:
        """A new id for one node; the cluster's, kept in the state directory, for each of three (a node
        formatted with another id would be refused by the quorum)."""
        if not self.clustered:
            return new_cluster_id()
        path = self.root / "kafka-cluster-id"
        if not path.exists():
            path.write_text(new_cluster_id())
        return path.read_text().strip()

    def _check_profile(self) -> None:
        """Refuse storage formatted for the other profile: a single node's log joined to a new cluster
        (its own cluster id, one voter), or a cluster member's started alone."""
        shared = self.root / "kafka-cluster-id"
        formatted = _cluster_id_of(self.dir / "data" / "meta.properties")
        if self.clustered:
            mismatch = not shared.exists() or formatted != shared.read_text().strip()
        else:
            mismatch = shared.exists() and formatted == shared.read_text().strip()
        if mismatch:
            made, now = ("a single node", "three nodes") if self.clustered else ("a node of three", "one node")
            raise StackError(f"{self.name}: its storage was formatted as {made}, the stack now runs {now} "
                             f"(AEGIS_STACK_KAFKA_BROKERS={self.nodes})",
                             hint=f"go back to the profile it was made with, or stop Kafka and delete the "
                                  f"kafka*/data directories and {shared} under {self.root} (the topics are lost)")

    def command(self) -> list[str]:
        return self.java_command(self.classpath(), "kafka.Kafka", str(self.dir / "server.properties"))

    def _admin(self, bootstrap: str):
        from confluent_kafka.admin import AdminClient
        return AdminClient({**self.settings.kafka.client_config(), "bootstrap.servers": bootstrap,
                            "log_level": 2})  # a probe of a node that is down is no error worth printing

    def _metadata(self, bootstrap: str):
        try:
            return self._admin(bootstrap).list_topics(timeout=2)
        except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
            return None

    def _serving(self, node: int) -> ClusterMetadata | None:
        """The cluster's metadata if node ``node`` serves as itself: its own listener answers a metadata
        request that lists it (a fenced node is not listed), and it answers a request addressed to its
        id (a broker-config read goes to that broker only; a metadata request may be answered by any
        node the client has learned of, so it alone proves nothing about this one)."""
        from confluent_kafka.admin import ConfigResource, ResourceType
        port = broker_port(self.settings, node)
        if not port_open(port):
            return None
        try:
            admin = self._admin(f"127.0.0.1:{port}")
            metadata = admin.list_topics(timeout=2)
            if node not in metadata.brokers:
                return None
            resource = ConfigResource(ResourceType.BROKER, str(node))
            admin.describe_configs([resource], request_timeout=2)[resource].result(timeout=3)
            return metadata
        except Exception:  # noqa: BLE001 - any failure just means "not serving (yet)"
            return None

    def probe(self) -> bool:
        if not self.clustered:
            if not port_open(self.port):
                return False
            metadata = self._metadata(self.settings.kafka.bootstrap_servers)
            return metadata is not None and bool(metadata.brokers)
        return self._serving(self.node) is not None

    def probe_started(self) -> bool:
        """A quorum of three serves nothing until two controllers run, so a node started before the
        others counts as started once its controller listens, while no node serves yet; once the
        cluster serves, a node is started when it serves as itself and its metadata lists every node
        whose controller runs (the last of a fresh cluster waits for all three)."""
        if not self.clustered:
            return self.probe()
        metadata = self._serving(self.node)
        running = [n for n in range(1, self.nodes + 1) if port_open(controller_port(self.settings, n))]
        if metadata is not None:
            return set(running) <= set(metadata.brokers)
        if not port_open(self.controller_port):
            return False
        return not any(self._serving(n) is not None for n in range(1, self.nodes + 1) if n != self.node)


def _cluster_id_of(meta_properties: Path) -> str | None:
    for line in meta_properties.read_text().splitlines():
        if line.startswith("cluster.id="):
            return line.split("=", 1)[1].strip()
    return None


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them: 16 random bytes, URL-safe base64 without padding, never
    starting with "-" (the storage tool's argument parser would take one for an option: 1 in 64 ids)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaConnect(JavaService):
    """One Kafka Connect distributed worker: worker 1 of 1, or worker n of the cluster profile's 2
    (one Connect cluster: the same group id and internal topics)."""

    name = "kafka-connect"

    def __init__(self, settings: Settings, worker: int = 1):
        super().__init__(settings)
        self.worker = worker
        self.workers = settings.stack.connect_workers
        self.name = node_name("kafka-connect", worker)

    @property
    def port(self) -> int:
        return (httpx.URL(self.settings.kafka.connect_url).port or 8083) + self.worker - 1

    @property
    def url(self) -> str:
        return self.settings.kafka.connect_url if self.worker == 1 else f"http://127.0.0.1:{self.port}"

    def heap(self) -> str:
        return self.settings.stack.worker_heap

    def _cluster_properties(self) -> dict[str, str]:
        """What changes with more brokers or workers: the internal topics' replication, every broker
        to bootstrap from, and how long a departed worker's tasks wait before they move."""
        properties = {}
        if self.settings.stack.kafka_brokers > 1:
            properties["bootstrap.servers"] = broker_addresses(self.settings)
            properties.update({f"{kind}.storage.replication.factor": "3" for kind in ("config", "offset", "status")})
        if self.workers > 1:
            # Connect keeps a departed worker's tasks unassigned this long in case it comes back
            # (default 5 minutes): a SIGKILLed worker's Debezium task would stop the stream that long.
            properties["scheduled.rebalance.max.delay.ms"] = str(SCHEDULED_REBALANCE_DELAY_MS)
        return properties

    def check_installed(self) -> None:
        super().check_installed()
        install_avro_converter(self.settings.stack)  # the Avro profile's converter plugin (docs/avro.md)

    def plugin_path(self) -> str:
        return f"{self.jars / 'connect-plugins'},{converter_plugin_path(self.settings.stack)}"

    def command(self) -> list[str]:
        # The worker and the producers, consumers and admin client it makes for connectors all
        # authenticate as KAFKA_SASL_USERNAME (and trust KAFKA_SSL_CA_LOCATION) when security is on.
        security = self.settings.kafka.java_client_properties()
        for_clients = {f"{prefix}{key}": value for prefix in ("producer.", "consumer.", "admin.")
                       for key, value in security.items() if key != "bootstrap.servers"}
        props = self.properties_file({
            **security,
            **for_clients,
            "group.id": "aegis-connect",
            "listeners": f"http://127.0.0.1:{self.port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.port),
            "plugin.path": self.plugin_path(),
            # Service-loader discovery starts the worker in ~2 s instead of ~8 s of classpath scanning.
            "plugin.discovery": "service_load",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "config.storage.topic": "_aegis_connect_configs",
            "offset.storage.topic": "_aegis_connect_offsets",
            "status.storage.topic": "_aegis_connect_status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "1",
            "status.storage.partitions": "1",
            "offset.flush.interval.ms": "1000",
            "config.providers": "env,file",
            "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
            **self._cluster_properties(),
        }, "connect-distributed.properties")
        return self.java_command(self.classpath(), "org.apache.kafka.connect.cli.ConnectDistributed", str(props))

    def env(self) -> dict[str, str]:
        # Secrets reach connector configs through the env config provider, never through committed JSON.
        env = super().env()
        env["AEGIS_DEBEZIUM_PASSWORD"] = self.settings.postgres.debezium_password.get_secret_value()
        return env

    def probe(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/connector-plugins", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and any(p.get("class") == DEBEZIUM_CONNECTOR for p in response.json())
