"""Every Cypher statement the graph sink runs (Neo4j 5.23+: scoped ``CALL (x) { … }`` subqueries).

Both batch writes are a single ``UNWIND $rows`` statement, run in one transaction per batch, and
keep the sink's guarantees inside Cypher:

* **LSN guard** — a policy is written only if it has no ``lsn`` yet or an ``lsn`` ≤ the row's,
  and only if no ``:RemovedPolicy`` marker holds an ``lsn`` ≥ the row's. A removal applies only if
  the stored policy's ``lsn`` ≤ the removal's, and leaves (or raises) the marker's ``lsn``.
* **No stale edges** — when the content hash changed, every outgoing dimension relationship is
  deleted and the current ones are created; an unchanged hash (a replay) only touches ``lsn``.
* **No orphans** — dimension nodes that lost a relationship in the batch and have none left are
  deleted at the end of the same statement.
"""

from __future__ import annotations

from cdc_sinks.neo4j_graph.model import DIMENSION_LABELS, DIMENSIONS, POLICY, REMOVED_POLICY

_RELATIONSHIP_TYPES = "|".join(d.relationship for d in DIMENSIONS)

_DELETE_ORPHANS = """
WITH collect(previous) AS nested
UNWIND nested AS previous
UNWIND previous AS dimension
WITH DISTINCT dimension
WHERE NOT EXISTS { (dimension)--() }
DELETE dimension
RETURN count(dimension) AS orphans_deleted
"""


def _link(dimension_field: str, relationship: str, label: str) -> str:
    return (f"FOREACH (x IN CASE WHEN relink THEN row.{dimension_field} ELSE [] END |\n"
            f"  MERGE (d:{label} {{key: x.key}}) ON CREATE SET d.name = x.name\n"
            f"  CREATE (p)-[:{relationship}]->(d))\n")


UPSERT_POLICIES = f"""
UNWIND $rows AS row
OPTIONAL MATCH (gone:{REMOVED_POLICY} {{id: row.id}})
WITH row, gone
WHERE gone IS NULL OR gone.lsn < row.lsn
MERGE (p:{POLICY} {{id: row.id}})
WITH row, gone, p
WHERE p.lsn IS NULL OR p.lsn <= row.lsn
FOREACH (g IN CASE WHEN gone IS NULL THEN [] ELSE [gone] END | DELETE g)
WITH row, p, p.content_hash IS NULL OR p.content_hash <> row.content_hash AS relink
SET p += row.props, p.lsn = row.lsn, p.content_hash = row.content_hash
WITH row, p, relink
CALL (p, relink) {{
  OPTIONAL MATCH (p)-[old:{_RELATIONSHIP_TYPES}]->(d)
  WHERE relink
  DELETE old
  RETURN collect(DISTINCT d) AS previous
}}
{"".join(_link(d.field, d.relationship, d.label) for d in DIMENSIONS)}{_DELETE_ORPHANS}"""

REMOVE_POLICIES = f"""
UNWIND $rows AS row
OPTIONAL MATCH (p:{POLICY} {{id: row.id}})
WITH row, p
WHERE p IS NULL OR p.lsn <= row.lsn
MERGE (marker:{REMOVED_POLICY} {{id: row.id}})
SET marker.lsn = CASE WHEN marker.lsn IS NULL OR marker.lsn < row.lsn THEN row.lsn ELSE marker.lsn END
WITH p
CALL (p) {{
  OPTIONAL MATCH (p)-[:{_RELATIONSHIP_TYPES}]->(d)
  RETURN collect(DISTINCT d) AS previous
}}
DETACH DELETE p
{_DELETE_ORPHANS}"""

READ_BACK = f"""
MATCH (p:{POLICY})
WHERE p.id > $after_id
RETURN p.id AS id, p.lsn AS lsn, p.content_hash AS content_hash
ORDER BY p.id
LIMIT $limit
"""

COUNT_POLICIES = f"MATCH (p:{POLICY}) RETURN count(p) AS n"

PING = "RETURN 1 AS ok"


def _snake(label: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in label).lstrip("_")


SCHEMA: tuple[str, ...] = (
    f"CREATE CONSTRAINT policy_id IF NOT EXISTS FOR (n:{POLICY}) REQUIRE n.id IS UNIQUE",
    f"CREATE CONSTRAINT removed_policy_id IF NOT EXISTS FOR (n:{REMOVED_POLICY}) REQUIRE n.id IS UNIQUE",
    *(f"CREATE CONSTRAINT {_snake(label)}_key IF NOT EXISTS FOR (n:{label}) REQUIRE n.key IS UNIQUE"
      for label in DIMENSION_LABELS),
    *(f"CREATE INDEX {_snake(label)}_name IF NOT EXISTS FOR (n:{label}) ON (n.name)"
      for label in DIMENSION_LABELS),
    f"CREATE INDEX policy_application_end_date IF NOT EXISTS FOR (n:{POLICY}) ON (n.application_end_date)",
)
"""Constraints and indexes, each idempotent (``IF NOT EXISTS``)."""

AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"
