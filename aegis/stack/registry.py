"""The ordered list of local-stack services. Later targets append themselves here."""

from __future__ import annotations

from aegis.settings import Settings
from aegis.stack.base import Service


def build_services(settings: Settings) -> list[Service]:
    from aegis.stack.kafka import Kafka, KafkaConnect
    from aegis.stack.milvus import Milvus
    from aegis.stack.neo4j import Neo4j
    from aegis.stack.opensearch import OpenSearch
    from aegis.stack.postgres import Postgres
    from aegis.stack.redis import Redis
    from aegis.stack.schema_registry import SchemaRegistry

    return [Postgres(settings), Redis(settings), SchemaRegistry(settings), Kafka(settings), KafkaConnect(settings),
            Neo4j(settings), OpenSearch(settings), Milvus(settings)]
