"""The Neo4j knowledge-graph sink (``aegis sinks run neo4j``): see ``model`` for the graph, ``sink`` for the writer."""
