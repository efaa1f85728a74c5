"""The search sink's spec (``cdc_sinks.spec``)."""

from cdc_sinks.spec import SinkSpec

SPEC = SinkSpec(
    name="search", store="OpenSearch / Elasticsearch (SEARCH_ENGINE)",
    builder="cdc_sinks.search.sink:build_search_sink",
    stack_service="opensearch", namespace_setting="SEARCH_INDEX_ALIAS", namespace_template="{ns}-policies",
    checksums_on_server=True)
