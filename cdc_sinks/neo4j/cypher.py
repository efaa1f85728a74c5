"""Every Cypher statement the graph sink runs (Neo4j 5.23+: scoped ``CALL (x) { … }`` subqueries).

Both batch writes are a single ``UNWIND $rows.items`` statement, and keep the sink's guarantees inside
Cypher; the runtime sends a batch's upserts and removals as the two in one statement
(``write_policies``: two ``CALL`` subqueries), one auto-commit transaction and round trip per batch:

* **LSN guard** — a policy is written only if it has no ``lsn`` yet or an ``lsn`` ≤ the row's,
  and only if no ``:RemovedPolicy`` marker holds an ``lsn`` ≥ the row's. A removal applies only if
  the stored policy's ``lsn`` ≤ the removal's, and leaves (or raises) the marker's ``lsn``.
* **Repairs** (``rewrite_policies``) replace every property and every outgoing relationship, so a
  node edited by hand is put back whole.
* **No stale edges** — when the policy's set of links (``links_hash``: its dimension
  relationships, computed by the sink) changed, the outgoing relationships no longer listed in
  ``row.links`` (newline-joined ``TYPE:key`` texts) are deleted and the missing ones merged; the
  rest are left alone. A change that
  keeps the links (most content edits, every replay) touches only the node's properties.
* **No orphans** — dimension nodes that lost a relationship in the batch and have none left are
  deleted at the end of the same statement.

A batch's rows travel inside a map (``$rows.items``), not as a list parameter: Neo4j caches a plan
per size class of each list parameter (1, 2-10, 11-100, 101-1,000 ...), so each new combination of
batch sizes was planned again on first use: 0.4 to 0.8 s, and as many CPU-seconds, for 25
combinations per statement, after every start and for every namespace. A map has one plan.

Labels and schema names carry the ``NEO4J_NAMESPACE`` prefix (empty by default), so several
pipelines or test runs can share Community Edition's single database without seeing each other.
"""

from __future__ import annotations

from cdc_sinks.neo4j.model import DIMENSION_LABELS, DIMENSIONS, POLICY, REMOVED_POLICY, TEMPORAL_PROPERTIES

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

PING = "RETURN 1 AS ok"
AWAIT_INDEXES = "CALL db.awaitIndexes($seconds)"


def _removing(remove_policies: str) -> str:
    """The removal statement over ``$removals`` and returning ``removal_orphans_deleted``, so that it
    stands beside the upsert (``$rows``, ``orphans_deleted``) in one statement."""
    renamed = (remove_policies.replace("UNWIND $rows.items AS row", "UNWIND $removals.items AS row")
               .replace("AS orphans_deleted", "AS removal_orphans_deleted"))
    if "$rows" in renamed or "$removals" not in renamed or "removal_orphans_deleted" not in renamed:
        raise AssertionError("the removal statement no longer has the shape write_policies renames")
    return renamed


def _snake(label: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in label).lstrip("_")


class GraphStatements:
    """The statements for one namespace (``""``: plain ``:Policy``, ``:Organization`` …)."""

    def __init__(self, namespace: str = ""):
        self.namespace = namespace
        policy, removed = self.label(POLICY), self.label(REMOVED_POLICY)
        links = "".join(self._link(d.field, d.relationship, self.label(d.label)) for d in DIMENSIONS)
        temporal = ", ".join(f"p.{name} = {expression}" for name, expression in TEMPORAL_PROPERTIES.items())
        self.upsert_policies = self._upsert(policy, removed, links, temporal, rewrite=False)
        self.rewrite_policies = self._upsert(policy, removed, links, temporal, rewrite=True)
        """A repair: every outgoing relationship not listed is deleted and every listed one merged."""
        self.remove_policies = f"""
UNWIND $rows.items AS row
OPTIONAL MATCH (p:{policy} {{id: row.id}})
WITH row, p
WHERE p IS NULL OR p.lsn <= row.lsn
MERGE (marker:{removed} {{id: row.id}})
SET marker.lsn = CASE WHEN marker.lsn IS NULL OR marker.lsn < row.lsn THEN row.lsn ELSE marker.lsn END,
    marker.at = timestamp() / 1000
WITH p
CALL (p) {{
  OPTIONAL MATCH (p)-[:{_RELATIONSHIP_TYPES}]->(d)
  RETURN collect(DISTINCT d) AS previous
}}
DETACH DELETE p
{_DELETE_ORPHANS}"""
        self.write_policies = (f"CALL () {{{self.upsert_policies}}}\n"
                               f"CALL () {{{_removing(self.remove_policies)}}}\n"
                               "RETURN orphans_deleted + removal_orphans_deleted AS orphans_deleted")
        """A batch's upserts (``$rows.items``) and removals (``$removals.items``) in one statement: one round trip."""
        self.read_back = f"""
MATCH (p:{policy})
WHERE p.id > $after_id
RETURN p.id AS id, p.lsn AS lsn, p.content_hash AS content_hash, p.row_digest AS row_digest
ORDER BY p.id
LIMIT $limit
"""
        self.range_checksums = f"""
MATCH (p:{policy})
WHERE p.id >= $lo AND p.id < $hi
RETURN p.id / $range_size AS range, count(*) AS n, sum(coalesce(p.row_digest, 0)) AS digest
"""
        # temporal properties come back as plain values (hydrating a driver DateTime costs more than the row)
        self.read_records = f"""
UNWIND $ids.items AS id
MATCH (p:{policy} {{id: id}})
OPTIONAL MATCH (p)-[r]->(d)
RETURN p {{.*, updated_at: p.updated_at.epochSeconds * 1000000 + p.updated_at.microsecond,
           application_start_date: toString(p.application_start_date),
           application_end_date: toString(p.application_end_date)}} AS props,
       collect(CASE WHEN r IS NULL THEN NULL ELSE type(r) + ':' + coalesce(toString(d.key), '') END) AS links
"""
        self.purge_markers = f"""
MATCH (m:{removed})
WHERE coalesce(m.at, 0) < $before AND NOT m.id IN $keep.items
WITH m LIMIT $limit
DELETE m
RETURN count(*) AS purged
"""
        self.count_policies = f"MATCH (p:{policy}) RETURN count(p) AS n"
        self.schema: tuple[str, ...] = (
            f"CREATE CONSTRAINT {self.schema_name('policy_id')} IF NOT EXISTS "
            f"FOR (n:{policy}) REQUIRE n.id IS UNIQUE",
            f"CREATE CONSTRAINT {self.schema_name('removed_policy_id')} IF NOT EXISTS "
            f"FOR (n:{removed}) REQUIRE n.id IS UNIQUE",
            *(f"CREATE CONSTRAINT {self.schema_name(_snake(label) + '_key')} IF NOT EXISTS "
              f"FOR (n:{self.label(label)}) REQUIRE n.key IS UNIQUE" for label in DIMENSION_LABELS),
            *(f"CREATE INDEX {self.schema_name(_snake(label) + '_name')} IF NOT EXISTS "
              f"FOR (n:{self.label(label)}) ON (n.name)" for label in DIMENSION_LABELS),
            f"CREATE INDEX {self.schema_name('policy_application_end_date')} IF NOT EXISTS "
            f"FOR (n:{policy}) ON (n.application_end_date)",
        )
        """Constraints and indexes, each idempotent (``IF NOT EXISTS``)."""
        self.labels: tuple[str, ...] = tuple(self.label(base) for base in (POLICY, REMOVED_POLICY, *DIMENSION_LABELS))
        self.drop_schema: tuple[str, ...] = tuple(
            f"DROP {statement.split()[1]} {statement.split()[2]} IF EXISTS" for statement in self.schema)

    @staticmethod
    def _upsert(policy: str, removed: str, links: str, temporal: str, *, rewrite: bool) -> str:
        relink = "true" if rewrite else "p.links_hash IS NULL OR p.links_hash <> row.links_hash"
        old = "old" if rewrite else f"old:{_RELATIONSHIP_TYPES}"
        assign = "=" if rewrite else "+="  # a repair replaces every property: one added by hand goes too
        return f"""
UNWIND $rows.items AS row
OPTIONAL MATCH (gone:{removed} {{id: row.id}})
WITH row, gone
WHERE gone IS NULL OR gone.lsn < row.lsn
MERGE (p:{policy} {{id: row.id}})
WITH row, gone, p
WHERE p.lsn IS NULL OR p.lsn <= row.lsn
FOREACH (g IN CASE WHEN gone IS NULL THEN [] ELSE [gone] END | DELETE g)
WITH row, p, {relink} AS relink
SET p {assign} row.props, p.lsn = row.lsn, p.content_hash = row.content_hash, p.row_digest = row.row_digest,
    p.links_hash = row.links_hash, {temporal}
WITH row, p, relink, CASE WHEN relink THEN split(row.links, '\n') ELSE [] END AS links
CALL (p, relink, links) {{
  OPTIONAL MATCH (p)-[{old}]->(d)
  WHERE relink AND NOT type(old) + ':' + coalesce(d.key, '') IN links
  DELETE old
  RETURN collect(DISTINCT d) AS previous
}}
{links}{_DELETE_ORPHANS}"""

    def label(self, base: str) -> str:
        """``base`` with the namespace prefix, quoted for Cypher."""
        return f"`{self.namespace}{base}`"

    def schema_name(self, base: str) -> str:
        return f"`{self.namespace}_{base}`" if self.namespace else f"`{base}`"

    @staticmethod
    def _link(dimension_field: str, relationship: str, label: str) -> str:
        keys, names = f"row.{dimension_field}", f"row.{dimension_field}_names"  # names: null where equal to the keys
        return (f"FOREACH (i IN CASE WHEN relink THEN range(0, size({keys}) - 1) ELSE [] END |\n"
                f"  MERGE (d:{label} {{key: {keys}[i]}}) ON CREATE SET d.name = coalesce({names}[i], {keys}[i])\n"
                f"  MERGE (p)-[:{relationship}]->(d))\n")
