"""The search-index sink: one small engine interface, OpenSearch and Elasticsearch behind it."""
