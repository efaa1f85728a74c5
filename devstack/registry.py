"""The ordered list of local-stack services. Later targets append themselves here."""

from __future__ import annotations

from aegis.settings import Settings
from devstack.base import Service


def build_services(settings: Settings) -> list[Service]:
    from devstack.kafka import Kafka, KafkaConnect
    from devstack.milvus import Milvus
    from devstack.neo4j import Neo4j
    from devstack.opensearch import OpenSearch
    from devstack.postgres import Postgres
    from devstack.prometheus import Prometheus
    from devstack.redis import Redis
    from devstack.schema_registry import SchemaRegistry

    brokers = [Kafka(settings, node) for node in range(1, settings.stack.kafka_brokers + 1)]
    workers = [KafkaConnect(settings, worker) for worker in range(1, settings.stack.connect_workers + 1)]
    return [Postgres(settings), Redis(settings), SchemaRegistry(settings), *brokers, *workers,
            Neo4j(settings), OpenSearch(settings), Milvus(settings), Prometheus(settings)]
