"""The Milvus vector sink as a conformance target: each test gets its own collection alias."""

from __future__ import annotations

from aegis.settings import Settings
from cdc_sinks.base import Sink
from conformance_targets import ConformanceTarget


class MilvusTarget(ConformanceTarget):
    name = "milvus"
    stack_service = "milvus"

    def env(self, namespace: str) -> dict[str, str]:
        return {"MILVUS_COLLECTION_ALIAS": f"conf_{namespace}"}

    def engine_label(self, settings: Settings) -> str:
        return "standalone"

    def engine(self, settings: Settings) -> str:
        from cdc_sinks.milvus.store import MilvusStore

        store = MilvusStore(settings.milvus)
        try:
            version = store.run(lambda c: c.get_server_version(), "server version")
        finally:
            store.close()
        return (f"milvus {version} at {settings.milvus.address} (alias {settings.milvus.collection_alias}, "
                f"model {settings.embedding.version})")
