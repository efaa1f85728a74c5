"""Kafka (KRaft, one combined broker/controller) and a Kafka Connect distributed worker with
the Debezium PostgreSQL connector plugin, run from jars resolved from Maven Central."""

from __future__ import annotations

import uuid
import base64
import subprocess
from pathlib import Path

import httpx

from aegis.errors import StackError
from devstack.base import port_open
from devstack.java import JavaService
from devstack.schema_registry import converter_plugin_path, install_avro_converter

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
        return self.properties_file({
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
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
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
        }, "server.properties")

    def prepare(self) -> None:
        super().prepare()
        props = self.server_properties()
        if (self.dir / "data" / "meta.properties").exists():
            return
        cluster_id = new_cluster_id()
        result = subprocess.run(
            [self.java(), "-cp", self.classpath(), f"-Dlog4j2.configurationFile={self.log4j_config()}",
             "-Xmx256m", "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(props),
             "--ignore-formatted"],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"kafka: formatting the KRaft storage failed (exit {result.returncode})",
                             hint=(result.stdout + result.stderr)[-2000:])

    def command(self) -> list[str]:
        return [self.java(), *self.jvm_flags(), "-cp", self.classpath(), "kafka.Kafka", str(self.dir / "server.properties")]

    def probe(self) -> bool:
        if not port_open(self.port):
            return False
        from confluent_kafka.admin import AdminClient
        try:
            metadata = AdminClient({"bootstrap.servers": self.settings.kafka.bootstrap_servers}).list_topics(timeout=2)
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
        props = self.properties_file({
            "bootstrap.servers": self.settings.kafka.bootstrap_servers,
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
