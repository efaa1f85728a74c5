"""A thin, typed door to Milvus: every call has a timeout and every driver error becomes an
AegisError (``errors.translate``)."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aegis.errors import AegisError
from aegis.settings import MilvusSettings
from cdc_sinks.milvus.errors import translate

log = logging.getLogger(__name__)
T = TypeVar("T")

QUERY_WINDOW = 16384
"""Milvus caps offset + limit of one query at 16,384 rows."""

class _AliasNotFoundFilter(logging.Filter):
    """pymilvus logs every failed call at ERROR; an absent alias is an expected answer here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "alias not found" not in record.getMessage()


_QUIET = _AliasNotFoundFilter()


@dataclass(frozen=True)
class Segments:
    """A collection's segments as Milvus reports them."""

    persisted: dict[int, int]
    """Segment id → rows (deleted rows included until a compaction purges them)."""
    loaded: bool
    served: frozenset[int]
    """Sealed segments the query node serves; growing ones are served too, but never listed."""

    @property
    def rows(self) -> int:
        return sum(self.persisted.values())

    @property
    def handed_over(self) -> bool:
        """The query node serves exactly the persisted segments (always true when not loaded)."""
        return not self.loaded or self.served == set(self.persisted)


class MilvusStore:
    """Connection to one Milvus server (lazy: it may be down when the sink starts)."""

    def __init__(self, settings: MilvusSettings):
        self.settings = settings
        self._client = None
        pymilvus_log = logging.getLogger("pymilvus.decorators")
        if _QUIET not in pymilvus_log.filters:
            pymilvus_log.addFilter(_QUIET)

    @property
    def client(self):
        if self._client is None:
            from pymilvus import MilvusClient

            # Our own connection alias: pymilvus otherwise shares one per address, and closing any
            # client would close it under every other client in the process.
            alias = f"aegis-{uuid.uuid4().hex}"
            # address, token and TLS (MILVUS_TLS, MILVUS_TLS_CA_FILE, MILVUS_TLS_SERVER_NAME)
            kwargs = self.settings.client_kwargs()
            self._client = self._call(lambda: MilvusClient(**kwargs, alias=alias, timeout=self.fast_timeout), "connect")
        return self._client

    def _call(self, fn: Callable[[], T], what: str, *, write: bool = False) -> T:
        try:
            return fn()
        except Exception as exc:  # translated at this boundary, nothing swallowed
            raise translate(exc, what, write=write) from exc

    def run(self, fn: Callable[..., T], what: str, *, write: bool = False) -> T:
        """Call ``fn(client)`` with errors translated."""
        client = self.client
        return self._call(lambda: fn(client), what, write=write)

    @property
    def timeout(self) -> int:
        """Seconds for one call, as an int: pymilvus bounds its own retry loop (75 tries, up to 3 s
        apart, ~4 minutes) by ``timeout`` only when it is an ``int`` — a float is ignored there."""
        return max(1, math.ceil(self.settings.timeout_seconds))

    @property
    def fast_timeout(self) -> int:
        """For cheap metadata calls (alias lookup, ping)."""
        return min(self.timeout, 3)

    @property
    def ddl_timeout(self) -> int:
        """Creating, indexing and loading a collection takes longer than a read or a write."""
        return max(self.timeout, 60)

    # ---------------------------------------------------------------- reads
    def query(self, collection: str, filter: str, fields: Sequence[str], *, limit: int | None = None,
              as_of: int | None = None) -> list[dict]:
        """Rows matching ``filter``; ``as_of`` (from ``timestamp_now``) reads as of that moment instead
        of ``MILVUS_CONSISTENCY_LEVEL``: the pages of one scan then wait for the server's clock once."""
        kwargs: dict = {"limit": limit} if limit is not None else {}
        if as_of is None:
            kwargs["consistency_level"] = self.settings.consistency_level
        else:
            kwargs.update(consistency_level="Customized", guarantee_timestamp=as_of)
        return self.run(lambda c: c.query(collection, filter=filter, output_fields=list(fields),
                                          timeout=self.timeout, **kwargs), "query")

    @staticmethod
    def timestamp_now() -> int:
        """Milvus' hybrid timestamp of this instant (by this machine's clock) for ``query(as_of=…)``."""
        from pymilvus.client.utils import mkts_from_unixtime

        return mkts_from_unixtime(time.time())

    def serves_reads(self, collection: str) -> bool:
        """True when ``collection`` answers a read at ``MILVUS_CONSISTENCY_LEVEL`` within the short
        timeout. A restarted Milvus answers calls ~10 s before it serves Strong reads (docs/milvus.md,
        "After a restart"); a sink resumed on the first answer only waits out full-timeout reads."""
        try:
            self.run(lambda c: c.query(collection, filter="id in [-1]", output_fields=["id"],
                                       consistency_level=self.settings.consistency_level,
                                       timeout=self.fast_timeout), "read probe")
            return True
        except AegisError:
            return False

    def query_ids(self, collection: str, ids: Sequence[int], fields: Sequence[str]) -> list[dict]:
        if not ids:
            return []
        rows: list[dict] = []
        for start in range(0, len(ids), 1000):
            chunk = ",".join(str(int(i)) for i in ids[start:start + 1000])
            rows += self.query(collection, f"id in [{chunk}]", fields)
        return rows

    def count(self, collection: str, filter: str) -> int:
        rows = self.query(collection, filter, ["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # ---------------------------------------------------------------- writes
    def upsert(self, collection: str, rows: Sequence[dict], *, chunk: int = 500) -> None:
        for start in range(0, len(rows), chunk):
            part = list(rows[start:start + chunk])
            self.run(lambda c, part=part: c.upsert(collection, part, timeout=self.timeout), "upsert", write=True)

    # ---------------------------------------------------------------- background work
    def flush(self, collection: str) -> None:
        """Seal the growing segments of ``collection`` and wait until they are persisted."""
        self.run(lambda c: c.flush(collection, timeout=self.ddl_timeout), "flush")

    def compact(self, collection: str) -> int:
        """Start merging the segments of ``collection`` and purging its deleted rows; the job id."""
        return self.run(lambda c: c.compact(collection, timeout=self.ddl_timeout), "compact")

    def compaction_done(self, job: int) -> bool:
        return self.run(lambda c: c.get_compaction_state(job, timeout=self.timeout), "compaction state") == "Completed"

    def rows_to_index(self, collection: str) -> int:
        """Rows of ``collection``'s persisted segments that no index covers yet, over all its indexes."""
        def pending(client) -> int:
            rows = 0
            for index in client.list_indexes(collection, timeout=self.timeout):
                described = client.describe_index(collection, index, timeout=self.timeout) or {}
                rows += int(described.get("pending_index_rows") or 0)
            return rows

        return self.run(pending, "describe index")

    def segments(self, collection: str) -> Segments:
        """Where ``collection``'s segments stand: persisted (rows each, deleted rows included) and
        served by the query node (none while the collection is not loaded)."""
        from pymilvus.client.types import LoadState
        from pymilvus.grpc_gen import common_pb2

        def read(client) -> Segments:
            # pymilvus has no public call for these two views; its connection has
            connection = client._get_connection()
            persisted = {info.segmentID: info.num_rows
                         for info in connection.get_persistent_segment_infos(collection, timeout=self.timeout)
                         if info.state != common_pb2.SegmentState.Dropped}
            loaded = client.get_load_state(collection, timeout=self.timeout)["state"] == LoadState.Loaded
            served = connection.get_query_segment_info(collection, timeout=self.timeout) if loaded else []
            return Segments(persisted, loaded, frozenset(info.segmentID for info in served
                                                         if info.state != common_pb2.SegmentState.Growing))

        return self.run(read, "segment info")

    # ---------------------------------------------------------------- collections and aliases
    def alias_target(self, alias: str) -> str | None:
        """The collection ``alias`` points at, or None when the alias does not exist."""
        from pymilvus.exceptions import MilvusException

        client = self.client
        try:
            # short: every batch starts with this call, so a server that is down is noticed in
            # seconds and the runtime pauses instead of spending the outage inside retries
            return client.describe_alias(alias, timeout=self.fast_timeout)["collection_name"]
        except MilvusException as exc:
            if "alias" in str(exc).lower() and ("not exist" in str(exc).lower() or "not found" in str(exc).lower()):
                return None
            raise translate(exc, "describe alias") from exc
        except Exception as exc:
            raise translate(exc, "describe alias") from exc

    def description(self, collection: str) -> str:
        return self.run(lambda c: c.describe_collection(collection, timeout=self.timeout), "describe collection").get(
            "description", "")

    def collections(self) -> list[str]:
        return self.run(lambda c: c.list_collections(timeout=self.timeout), "list collections")

    def has_collection(self, collection: str) -> bool:
        return self.run(lambda c: c.has_collection(collection, timeout=self.timeout), "has collection")

    def drop_namespace(self, alias: str) -> None:
        """Drop ``alias`` and every collection named after it (``<alias>_<model version>…``, any version)."""
        if self.alias_target(alias) is not None:
            self.run(lambda c: c.drop_alias(alias), "drop alias")
        for name in self.collections():
            if name.startswith(f"{alias}_"):
                self.run(lambda c, name=name: c.drop_collection(name), "drop collection")

    def ping(self) -> bool:
        """True when Milvus answers. A failed ping drops the client, so the next call dials afresh
        instead of waiting out gRPC's reconnect backoff, which grows during a long outage."""
        try:
            self.run(lambda c: c.list_collections(timeout=self.fast_timeout), "ping")
            return True
        except AegisError:
            self.close()
            return False

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # closing a dead channel must not fail shutdown
                log.debug("milvus client close failed", exc_info=True)
            self._client = None
