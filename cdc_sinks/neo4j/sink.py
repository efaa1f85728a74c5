"""The Neo4j knowledge-graph sink: the ``Sink`` protocol over the official ``neo4j`` driver.

One explicit transaction per batch (the driver's own retry loop is not used: the runtime owns
retries, backoff and pausing), short connection timeouts so an unreachable server fails fast
into a ``TransientError``, and one pooled driver for the sink's life (it reconnects by itself
after Neo4j restarts). The graph model and the Cypher are in ``model`` and ``cypher``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import neo4j

from aegis.settings import Neo4jSettings, Settings
from cdc_sinks.base import Defect, DefectKind, Removal, SinkRecord, StoredRecord, StoredVersion, newest_per_policy
from cdc_sinks.checksums import ID_CEILING, RangeChecksum, row_digest
from cdc_sinks.neo4j import cypher
from cdc_sinks.neo4j.cypher import GraphStatements
from cdc_sinks.neo4j.errors import translated
from cdc_sinks.neo4j.model import GraphPolicy, epoch_parts

BOOKKEEPING = ("lsn", "content_hash", "row_digest", "links_hash")
"""Node properties the sink keeps for itself; the others, and the relationships, are what readers see."""
READ_CHUNK = 2000
"""Policies per deep-read query."""

EQUIVALENT_SCHEMA_EXISTS = "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists"
"""What Neo4j answers the loser of two concurrent ``CREATE … IF NOT EXISTS`` of one index or constraint."""

log = logging.getLogger(__name__)


class Neo4jSink:
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
            max_transaction_retry_time=0,
            notifications_min_severity="OFF")  # "unknown property" on an empty graph is expected, not news
        self._write_session: neo4j.Session | None = None
        self._write_session_lock = threading.Lock()

    # -- protocol ---------------------------------------------------------------------------

    def ensure_ready(self) -> None:
        with translated("creating constraints and indexes"), self._driver.session(database=self._database) as session:
            for statement in self.statements.schema:
                try:
                    session.run(statement).consume()
                except neo4j.exceptions.ClientError as exc:
                    # ``IF NOT EXISTS`` does not cover two members of the sink creating it at once
                    if exc.code != EQUIVALENT_SCHEMA_EXISTS:
                        raise
            session.run(cypher.AWAIT_INDEXES, seconds=120).consume()
            # Plan the batch statements now (an empty batch writes nothing): planning them takes
            # seconds, which must not count against the first real batch's transaction timeout.
            for statement in (self.statements.upsert_policies, self.statements.remove_policies):
                session.run(statement, rows=_Rows([])).consume()
            session.run(self.statements.write_policies, rows=_Rows([]), removals=_Rows([])).consume()

    def ping(self) -> bool:
        try:
            with self._driver.session(database=self._database) as session:
                return session.run(cypher.PING).single() is not None
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
            return False

    def describe(self) -> str:
        info = self._driver.get_server_info()
        return f"{info.agent} at {info.address} (database {self._database}, namespace {self.statements.namespace!r})"

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        """One transaction; ``rewrite`` (a repair) replaces every property and relationship of each node."""
        if records:
            statement = self.statements.rewrite_policies if rewrite else self.statements.upsert_policies
            self._write(statement, f"{'rewriting' if rewrite else 'upserting'} {len(records)} policies",
                        rows=self._upsert_rows(records))

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        if removals:
            self._write(self.statements.remove_policies, f"removing {len(removals)} policies",
                        rows=self._removal_rows(removals))

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        """The upserts and the removals in one statement (``write_policies``): one transaction and one round
        trip, where two explicit transactions cost the sink ~0.7 ms more CPU per batch."""
        if records or removals:
            self._write(self.statements.write_policies,
                        f"upserting {len(records)} and removing {len(removals)} policies",
                        rows=self._upsert_rows(records), removals=self._removal_rows(removals))

    @staticmethod
    def _upsert_rows(records: Sequence[SinkRecord]) -> list[dict[str, Any]]:
        newest = newest_per_policy(records)
        with translated(f"projecting {len(newest)} policies"):
            return [GraphPolicy.from_record(r).to_parameters() for r in newest]

    @staticmethod
    def _removal_rows(removals: Sequence[Removal]) -> list[dict[str, Any]]:
        return [{"id": r.policy_id, "lsn": r.lsn} for r in newest_per_policy(removals)]

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        with (
            translated("reading back policies"),
            self._driver.session(database=self._database, default_access_mode=neo4j.READ_ACCESS) as session,
        ):
            result = session.run(self.statements.read_back, after_id=after_id, limit=limit)
            return [StoredVersion(policy_id=r["id"], lsn=r["lsn"], content_hash=r["content_hash"],
                                  row_digest=r["row_digest"]) for r in result]

    def project(self, record: SinkRecord) -> dict[str, Any]:
        graph = GraphPolicy.from_record(record)
        node = {k: _plain(v) for k, v in graph.node.items() if v is not None}
        return {"node": node, "links": graph.links}

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        """Each ``:Policy`` node's properties and outgoing relationships (type and target key)."""
        found: dict[int, StoredRecord] = {}
        with (
            translated("reading policies deep"),
            self._driver.session(database=self._database, default_access_mode=neo4j.READ_ACCESS) as session,
        ):
            for start in range(0, len(ids), READ_CHUNK):
                result = session.run(self.statements.read_records, ids=_Rows(list(ids[start:start + READ_CHUNK])))
                for r in result:
                    record = _stored_record(dict(r["props"]), sorted(r["links"]))
                    if record is not None:
                        found[record.policy_id] = record
        return found

    def stray_ids(self) -> set[int]:
        return set()

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        """One aggregating read over the policy id index: count and ``row_digest`` sum per range."""
        with (
            translated("computing range checksums"),
            self._driver.session(database=self._database, default_access_mode=neo4j.READ_ACCESS) as session,
        ):
            result = session.run(self.statements.range_checksums, range_size=range_size, lo=lo,
                                 hi=ID_CEILING if hi is None else hi)
            return {r["range"]: RangeChecksum(count=r["n"], digest=r["digest"]) for r in result}

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        """``:RemovedPolicy`` nodes written before the cut-off, deleted 10,000 per transaction."""
        purged = 0
        with translated("purging removal markers"), self._driver.session(database=self._database) as session:
            while True:
                record = session.run(self.statements.purge_markers, before=int(written_before),
                                     keep=_Rows(sorted(keep)), limit=10_000).single()
                done = int(record["purged"]) if record else 0
                purged += done
                if done < 10_000:
                    return purged

    def count(self) -> int:
        with (
            translated("counting policies"),
            self._driver.session(database=self._database, default_access_mode=neo4j.READ_ACCESS) as session,
        ):
            record = session.run(self.statements.count_policies).single()
            return int(record["n"]) if record else 0

    def close(self) -> None:
        with self._write_session_lock:
            if self._write_session is not None:
                _close_quietly(self._write_session)
                self._write_session = None
        self._driver.close()

    # -- administration ---------------------------------------------------------------------

    def drop_namespace(self) -> None:
        """Delete every node of this namespace, in chunks, and drop its constraints and indexes."""
        with translated("dropping the graph namespace"), self._driver.session(database=self._database) as session:
            for label in self.statements.labels:
                session.run(f"MATCH (n:{label}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 2000 ROWS"
                            ).consume()
            for statement in self.statements.drop_schema:
                session.run(statement).consume()

    # -- internals --------------------------------------------------------------------------

    def _write(self, statement: str, what: str, **rows: list[dict[str, Any]]) -> None:
        """Run ``statement`` over the row lists ``rows`` as one auto-commit transaction (atomic, like an
        explicit one, without the BEGIN and COMMIT round trips)."""
        started = time.monotonic()
        query = neo4j.Query(statement, timeout=self._transaction_timeout)
        parameters = {name: _Rows(values) for name, values in rows.items()}
        if self._write_session_lock.acquire(blocking=False):
            try:
                record = self._run_in_write_session(query, parameters, what)
            finally:
                self._write_session_lock.release()
        else:  # another thread is writing: a session of its own
            with translated(what), self._driver.session(database=self._database) as session:
                record = _single(session, query, parameters, what)
        log.debug("neo4j %s in %.1f ms (%s orphan dimension nodes deleted)", what,
                  1000 * (time.monotonic() - started), record["orphans_deleted"] if record else 0)

    def _run_in_write_session(self, query: neo4j.Query, parameters: dict[str, Any], what: str) -> neo4j.Record | None:
        """Run in the session the sink's writes share (opening one costs the driver ~0.1 ms of CPU, as
        much as 10 to 20 µs per change in the small batches of a light load); a failure closes it, so the
        next write starts on a fresh session and connection."""
        session = self._write_session or self._driver.session(database=self._database)
        self._write_session = None
        try:
            record = _single(session, query, parameters, what)
        except BaseException:
            _close_quietly(session)
            raise
        self._write_session = session
        return record


def _single(session: neo4j.Session, query: neo4j.Query, parameters: dict[str, Any], what: str) -> neo4j.Record | None:
    with translated(what):
        return session.run(query, parameters).single()


def _close_quietly(session: neo4j.Session) -> None:
    try:
        session.close()
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
        log.debug("closing a failed neo4j session: %s", exc)


class _Rows(dict):
    """A batch's rows (or ids) as the driver sends them: a map ``{"items": rows}`` (the statements read
    ``$rows.items``: one cached plan whatever the batch size, ``cypher``), with a one-line ``repr``.

    The driver (5.28, ``Bolt5x.run``) formats every parameter with ``repr`` for a debug line before
    its logger decides whether to write it: ~13 µs per row, a tenth of the sink's CPU, for a line
    nobody reads. With debug logging on, the rows would also reach that line whole.
    """

    def __init__(self, rows: list[Any]):
        super().__init__(items=rows)

    def __repr__(self) -> str:
        return f"<{len(self['items'])} rows>"


def _plain(value: Any) -> Any:
    """Temporal values as ``read_records`` returns them: datetimes as epoch microseconds (a naive one
    taken as UTC), dates as ISO text; anything else as is."""
    if isinstance(value, datetime):
        seconds, nanos = epoch_parts(value)
        return seconds * 1_000_000 + nanos // 1000
    if isinstance(value, date):
        return value.isoformat()
    return value


def _stored_record(props: dict[str, Any], links: list[str]) -> StoredRecord | None:
    policy_id = props.get("id")
    if not isinstance(policy_id, int):
        return None
    defects: list[Defect] = []
    lsn, content_hash, digest = props.get("lsn"), props.get("content_hash"), props.get("row_digest")
    version = None
    if isinstance(lsn, int) and isinstance(content_hash, str):
        version = StoredVersion(policy_id, lsn, content_hash, row_digest=digest if isinstance(digest, int) else None)
        if digest != row_digest(policy_id, content_hash):
            defects.append(Defect(DefectKind.METADATA, f"row_digest {digest} is not the digest of its content hash"))
    else:
        defects.append(Defect(DefectKind.METADATA, "lsn or content_hash missing from the node"))
    if not links:
        defects.append(Defect(DefectKind.PARTIAL, "policy node without relationships"))
    elif props.get("links_hash") != hashlib.sha256("\n".join(links).encode()).hexdigest():
        defects.append(Defect(DefectKind.METADATA, "links_hash does not match the node's relationships"))
    node = {k: v for k, v in props.items() if k not in BOOKKEEPING and v is not None}
    return StoredRecord(policy_id, version, {"node": node, "links": links}, tuple(defects))


def build_neo4j_sink(settings: Settings) -> Neo4jSink:
    """The graph sink configured from the settings tree (``NEO4J_*``)."""
    return Neo4jSink(settings.neo4j)
