"""The Redis cache sink's spec (``cdc_sinks.spec``)."""

from cdc_sinks.spec import SinkSpec

SPEC = SinkSpec(
    name="redis", store="Redis", builder="cdc_sinks.redis.sink:build_redis_sink",
    stack_service="redis", namespace_setting="SINKS_REDIS_KEY_PREFIX", namespace_template="{ns}:policy:",
    checksums_on_server=True)
