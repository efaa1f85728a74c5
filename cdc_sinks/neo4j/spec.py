"""The Neo4j graph sink's spec (``cdc_sinks.spec``)."""

from cdc_sinks.spec import SinkSpec

SPEC = SinkSpec(
    name="neo4j", store="Neo4j", builder="cdc_sinks.neo4j.sink:build_neo4j_sink",
    stack_service="neo4j", namespace_setting="NEO4J_NAMESPACE", namespace_template="{ns}_",
    checksums_on_server=True)
