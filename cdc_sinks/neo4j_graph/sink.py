"""The Neo4j knowledge-graph sink: the ``Sink`` protocol over the official ``neo4j`` driver.

One explicit transaction per batch (the driver's own retry loop is not used: the runtime owns
retries, backoff and pausing), short connection timeouts so an unreachable server fails fast
into a ``TransientError``, and one pooled driver for the sink's life (it reconnects by itself
after Neo4j restarts). The graph model and the Cypher are in ``model`` and ``cypher``.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import neo4j

from aegis.settings import Neo4jSettings, Settings
from cdc_sinks.base import Removal, SinkRecord, StoredVersion
from cdc_sinks.checksums import ID_CEILING, RangeChecksum
from cdc_sinks.neo4j_graph import cypher
from cdc_sinks.neo4j_graph.cypher import GraphStatements
from cdc_sinks.neo4j_graph.errors import translated
from cdc_sinks.neo4j_graph.model import GraphPolicy

log = logging.getLogger(__name__)


class Neo4jGraphSink:
    """Keeps the policy knowledge graph in Neo4j in step with the active policies."""

    name = "neo4j"

    def __init__(self, settings: Neo4jSettings, *, transaction_timeout_seconds: float = 60.0,
                 connection_timeout_seconds: float = 5.0):
        self._database = settings.database
        self.statements = GraphStatements(settings.namespace)
        self._transaction_timeout = transaction_timeout_seconds
        self._driver = neo4j.GraphDatabase.driver(
            settings.bolt_uri, auth=(settings.user, settings.password.get_secret_value()),
            connection_timeout=connection_timeout_seconds,
            connection_acquisition_timeout=2 * connection_timeout_seconds,
            max_transaction_retry_time=0)

    # -- protocol ---------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        with translated("creating constraints and indexes"):
            with self._driver.session(database=self._database) as session:
                for statement in self.statements.schema:
                    session.run(statement).consume()
                session.run(cypher.AWAIT_INDEXES, seconds=120).consume()
                # Plan the batch statements now (an empty batch writes nothing): planning them takes
                # seconds, which must not count against the first real batch's transaction timeout.
                for statement in (self.statements.upsert_policies, self.statements.remove_policies):
                    session.run(statement, rows=[]).consume()

    def ping(self) -> bool:
        try:
            with self._driver.session(database=self._database) as session:
                return session.run(cypher.PING).single() is not None
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
            return False

    def upsert_batch(self, records: Sequence[SinkRecord]) -> None:
        newest: dict[int, SinkRecord] = {}
        for record in records:
            if record.policy_id not in newest or newest[record.policy_id].lsn <= record.lsn:
                newest[record.policy_id] = record
        if not newest:
            return
        with translated(f"projecting {len(newest)} policies"):
            rows = [GraphPolicy.from_record(r).to_parameters() for r in newest.values()]
        self._write(self.statements.upsert_policies, rows, f"upserting {len(rows)} policies")

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        newest: dict[int, int] = {}
        for removal in removals:
            newest[removal.policy_id] = max(removal.lsn, newest.get(removal.policy_id, removal.lsn))
        if not newest:
            return
        rows = [{"id": policy_id, "lsn": lsn} for policy_id, lsn in newest.items()]
        self._write(self.statements.remove_policies, rows, f"removing {len(rows)} policies")

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        with translated("reading back policies"):
            with self._driver.session(database=self._database,
                                      default_access_mode=neo4j.READ_ACCESS) as session:
                result = session.run(self.statements.read_back, after_id=after_id, limit=limit)
                return [StoredVersion(policy_id=r["id"], lsn=r["lsn"], content_hash=r["content_hash"],
                                      row_digest=r["row_digest"]) for r in result]

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        """One aggregating read over the policy id index: count and ``row_digest`` sum per range."""
        with translated("computing range checksums"):
            with self._driver.session(database=self._database,
                                      default_access_mode=neo4j.READ_ACCESS) as session:
                result = session.run(self.statements.range_checksums, range_size=range_size, lo=lo,
                                     hi=ID_CEILING if hi is None else hi)
                return {r["range"]: RangeChecksum(count=r["n"], digest=r["digest"]) for r in result}

    def count(self) -> int:
        with translated("counting policies"):
            with self._driver.session(database=self._database,
                                      default_access_mode=neo4j.READ_ACCESS) as session:
                record = session.run(self.statements.count_policies).single()
                return int(record["n"]) if record else 0

    def close(self) -> None:
        self._driver.close()

    # -- administration ---------------------------------------------------------------------

    def drop_namespace(self) -> None:
        """Delete every node of this namespace, in chunks, and drop its constraints and indexes."""
        with translated("dropping the graph namespace"):
            with self._driver.session(database=self._database) as session:
                for label in self.statements.labels:
                    session.run(f"MATCH (n:{label}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 2000 ROWS"
                                ).consume()
                for statement in self.statements.drop_schema:
                    session.run(statement).consume()

    # -- internals --------------------------------------------------------------------------

    def _write(self, statement: str, rows: list[dict[str, Any]], what: str) -> None:
        started = time.monotonic()
        with translated(what):
            with self._driver.session(database=self._database) as session:
                with session.begin_transaction(timeout=self._transaction_timeout) as tx:
                    record = tx.run(statement, rows=rows).single()
                    tx.commit()
        log.debug("neo4j %s in %.1f ms (%s orphan dimension nodes deleted)", what,
                  1000 * (time.monotonic() - started), record["orphans_deleted"] if record else 0)


def build_neo4j_sink(settings: Settings) -> Neo4jGraphSink:
    """The graph sink configured from the settings tree (``NEO4J_*``)."""
    return Neo4jGraphSink(settings.neo4j)
