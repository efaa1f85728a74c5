"""Kafka (KRaft, one combined broker/controller) and a Kafka Connect distributed worker with
the Debezium PostgreSQL connector plugin, run from jars resolved from Maven Central."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

import httpx

from aegis.errors import StackError
from aegis.models.limits import CHANGE_MESSAGE_MAX_BYTES
from devstack.base import port_open
from devstack.java import JavaService
from devstack.schema_registry import converter_plugin_path, install_avro_converter
from devstack.tls import local_ca_path, server_certificate

DEBEZIUM_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


class Kafka(JavaService):
    name = "kafka"

    @property
    def port(self) -> int:
        return _host_port(self.settings.kafka.bootstrap_servers.split(",")[0])[1]

    def heap(self) -> str:
        return self.settings.stack.kafka_heap

    def server_properties(self) -> Path:
        controller = self.settings.stack.kafka_controller_port
        kafka = self.settings.kafka
        client = kafka.security_protocol
        properties = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "listeners": f"{client}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"{client}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": f"{client}:{client},CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": client,
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "min.insync.replicas": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
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
            cert = server_certificate(self.root, "kafka")
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
            return
        cluster_id = new_cluster_id()
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

    def command(self) -> list[str]:
        return [self.java(), *self.jvm_flags(), "-cp", self.classpath(), "kafka.Kafka",
                str(self.dir / "server.properties")]

    def probe(self) -> bool:
        if not port_open(self.port):
            return False
        from confluent_kafka.admin import AdminClient
        try:
            metadata = AdminClient({**self.settings.kafka.client_config()}).list_topics(timeout=2)
            return bool(metadata.brokers)
        except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
            return False


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them: 16 random bytes, URL-safe base64 without padding, never
    starting with "-" (the storage tool's argument parser would take one for an option: 1 in 64 ids)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaConnect(JavaService):
    name = "kafka-connect"

    @property
    def port(self) -> int:
        return httpx.URL(self.settings.kafka.connect_url).port or 8083

    def heap(self) -> str:
        return self.settings.stack.connect_heap

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
        }, "connect-distributed.properties")
        return [self.java(), *self.jvm_flags(), "-cp", self.classpath(),
                "org.apache.kafka.connect.cli.ConnectDistributed", str(props)]

    def env(self) -> dict[str, str]:
        # Secrets reach connector configs through the env config provider, never through committed JSON.
        env = super().env()
        env["AEGIS_DEBEZIUM_PASSWORD"] = self.settings.postgres.debezium_password.get_secret_value()
        return env

    def probe(self) -> bool:
        try:
            response = httpx.get(f"{self.settings.kafka.connect_url}/connector-plugins", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and any(p.get("class") == DEBEZIUM_CONNECTOR for p in response.json())
