"""The targets the conformance suite runs against: one ``ConformanceTarget`` per sink.

To add a sink (e.g. Neo4j, Milvus): subclass ``ConformanceTarget`` below (or in a module of
your own imported here), then add it to ``TARGETS``. You provide:

* ``name`` — the sink's name in ``cdc_sinks.registry.SINKS`` (built with ``build_sink``);
* ``stack_service`` — the ``aegis stack`` service the outage test stops and starts again;
* ``env(namespace)`` — environment variables that give this test run its own empty corner of
  the target (an index alias, a key prefix, a collection or label name ...); the harness sets
  them both for the in-process runtime (settings are re-read) and for ``aegis sinks run``;
* ``engine(settings)`` — what the tests ran against, shown in test ids and the summary;
* ``cleanup(sink)`` — drop what the test wrote (called at the end of each test);
* optionally ``outage_ready(settings)`` — extra wait after the service restarts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from aegis.settings import Settings
from cdc_sinks.base import Sink


class ConformanceTarget(ABC):
    name: str = ""
    stack_service: str = ""

    @abstractmethod
    def env(self, namespace: str) -> dict[str, str]: ...

    @abstractmethod
    def engine(self, settings: Settings) -> str: ...

    def engine_label(self, settings: Settings) -> str:
        """Short label for the test id, known without contacting the server."""
        return self.name

    def cleanup(self, sink: Sink) -> None:
        """Remove what the test wrote: the sink's whole namespace."""
        sink.drop_namespace()  # type: ignore[attr-defined]


class SearchTarget(ConformanceTarget):
    name = "search"
    stack_service = "opensearch"

    def env(self, namespace: str) -> dict[str, str]:
        return {"SEARCH_INDEX_ALIAS": f"conf-{namespace}", "SEARCH_REFRESH_INTERVAL": "100ms"}

    def engine_label(self, settings: Settings) -> str:
        return settings.search.engine

    def engine(self, settings: Settings) -> str:
        from cdc_sinks.search.sink import build_engine

        engine = build_engine(settings.search)
        try:
            version = engine.info().get("version", {})
        finally:
            engine.close()
        return f"{settings.search.engine} {version.get('number', '?')} ({version.get('distribution', 'elasticsearch')}) at {settings.search.url}"


class RedisTarget(ConformanceTarget):
    name = "redis"
    stack_service = "redis"

    def env(self, namespace: str) -> dict[str, str]:
        return {"SINKS_REDIS_KEY_PREFIX": f"conf-{namespace}:policy:"}

    def engine(self, settings: Settings) -> str:
        from cdc_sinks.redis.sink import redis_client

        client = redis_client(settings)
        try:
            return f"redis {client.info('server')['redis_version']} at {settings.redis.host}:{settings.redis.port}"
        finally:
            client.close()


class Neo4jTarget(ConformanceTarget):
    """The graph sink; each test gets its own label namespace in Community Edition's one database."""

    name = "neo4j"
    stack_service = "neo4j"

    def env(self, namespace: str) -> dict[str, str]:
        return {"NEO4J_NAMESPACE": f"conf{namespace}"}

    def engine_label(self, settings: Settings) -> str:
        return "community"

    def engine(self, settings: Settings) -> str:
        import neo4j

        with neo4j.GraphDatabase.driver(settings.neo4j.bolt_uri, auth=(
                settings.neo4j.user, settings.neo4j.password.get_secret_value())) as driver:
            info = driver.get_server_info()
        return f"{info.agent} at {settings.neo4j.bolt_uri} (namespace {settings.neo4j.namespace})"



TARGETS: dict[str, ConformanceTarget] = {t.name: t for t in (SearchTarget(), RedisTarget(), Neo4jTarget())}

from conformance_milvus import MilvusTarget  # noqa: E402  (imports ConformanceTarget from here)

TARGETS[MilvusTarget.name] = MilvusTarget()
