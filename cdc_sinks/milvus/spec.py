"""The Milvus vector sink's spec (``cdc_sinks.spec``)."""

from aegis.settings import Settings
from cdc_sinks.spec import SinkSpec


def _batch_size(settings: Settings) -> int:
    return settings.milvus.batch_size


def _nice(settings: Settings) -> int:
    return settings.embedding.nice


SPEC = SinkSpec(
    name="milvus", store="Milvus", builder="cdc_sinks.milvus.sink:build_milvus_sink",
    stack_service="milvus", namespace_setting="MILVUS_COLLECTION_ALIAS", namespace_template="{ns}_policies",
    checksums_on_server=False, batch_size=_batch_size, nice=_nice)
