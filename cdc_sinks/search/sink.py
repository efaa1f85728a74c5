"""The search sink: the active view as documents in a versioned index behind an alias.

Stale-write protection is the engine's external versioning: every document is indexed with
``version = LSN`` and ``version_type = external_gte``, so an older event is refused by the engine
itself (HTTP 409 per item, counted as "stale" and skipped) and an equal one is an idempotent
rewrite. A removal indexes a small marker document (``removed: true``) with the removal's LSN
instead of deleting — a real delete's version is forgotten after ``index.gc_deletes`` — and the
read alias filters markers out, so searches never see them.

Every document carries ``row_digest`` (``cdc_sinks.checksums``), so the reconciler's range
checksums are one aggregation on the engine (``range_checksums``), not a read of every document.
The reconciler reads through the read alias — what searches see — and takes the engine's own
``_version`` as the guard a repair must pass (an ``_update`` through the API raises it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aegis.errors import DataError, ErrorCode, TransientError
from aegis.settings import SearchSettings, Settings
from cdc_sinks.base import Defect, DefectKind, Removal, SinkRecord, StoredRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum, row_digest
from cdc_sinks.search.elasticsearch_engine import ElasticsearchEngine
from cdc_sinks.search.engine import BulkLine, SearchEngine
from cdc_sinks.search.errors import TRANSIENT_STATUS
from cdc_sinks.search.opensearch_engine import OpenSearchEngine
from cdc_sinks.search.template import (
    ADDED_FIELDS,
    NOT_REMOVED,
    index_body,
    version_of,
    versioned_name,
    write_alias,
)

log = logging.getLogger(__name__)

CHECKSUM_PAGE = 5000
"""Ranges per composite-aggregation page (the engine's default bucket limit is 65,535)."""

PURGE_PAGE = 5000
"""Markers looked at per purge query."""

BOOKKEEPING = ("lsn", "content_hash", "row_digest", "removed", "removed_at")
"""Fields the sink adds to each document for itself; the rest of ``_source`` is what searches read."""


class SearchSink:
    """Writes policies to OpenSearch or Elasticsearch (see module doc)."""

    name = "search"

    def __init__(self, engine: SearchEngine, search: SearchSettings):
        self.engine = engine
        self.settings = search
        self.alias = search.index_alias
        self.write_alias = write_alias(search.index_alias)
        self.with_nori: bool | None = None

    # ------------------------------------------------------------------ set-up
    def ensure_ready(self) -> None:
        """Create ``<alias>-v1`` with both aliases unless the write alias already exists.

        An index created before ``row_digest`` existed gets the field added to its mapping, and an
        existing index takes the configured ``SEARCH_REFRESH_INTERVAL`` (a changed setting, or a
        changed default, applies at the sink's next start).
        """
        if targets := self.engine.alias_targets(self.write_alias):
            for index in targets:
                self.engine.add_fields(index, ADDED_FIELDS)
                self.engine.set_refresh_interval(index, self.settings.refresh_interval)
            return
        self.create_version(1)
        if not self.engine.index_exists(versioned_name(self.alias, 1)):  # creation acknowledged late: try again
            raise TransientError(f"index {versioned_name(self.alias, 1)} is still being created",
                                 code=ErrorCode.ELASTICSEARCH_SYNC_FAILED)
        self.engine.update_aliases([
            {"add": {"index": versioned_name(self.alias, 1), "alias": self.alias, "filter": NOT_REMOVED}},
            {"add": {"index": versioned_name(self.alias, 1), "alias": self.write_alias, "is_write_index": True}},
        ])
        log.info("search index created", extra={"index": versioned_name(self.alias, 1), "alias": self.alias,
                                                "engine": self.engine.kind, "nori": self.with_nori})

    def create_version(self, version: int) -> str:
        """Create the versioned index ``<alias>-v<version>`` (idempotent) and return its name."""
        name = versioned_name(self.alias, version)
        if not self.engine.index_exists(name):
            self.with_nori = self.engine.tokenizer_available("nori_tokenizer")
            self.engine.create_index(name, index_body(with_nori=self.with_nori,
                                                      refresh_interval=self.settings.refresh_interval))
        return name

    def current_index(self) -> str:
        targets = self.engine.alias_targets(self.write_alias)
        if not targets:
            raise TransientError(f"write alias {self.write_alias} does not exist yet",
                                 code=ErrorCode.ELASTICSEARCH_SYNC_FAILED, hint="run the search sink once")
        return targets[0]

    def rebuild(self) -> str:
        """Fill a new index version and swap the aliases to it; returns the new index name.

        Writes move to the new version first (one atomic alias update), the old version is then
        copied in with its external versions (newer documents already written win), and finally
        the read alias swaps in one atomic request. The old index is left for the operator to drop.
        """
        old = self.current_index()
        new = self.create_version((version_of(old, self.alias) or 0) + 1)
        self.engine.update_aliases([{"remove": {"index": old, "alias": self.write_alias}},
                                    {"add": {"index": new, "alias": self.write_alias, "is_write_index": True}}])
        self.engine.reindex(old, new)
        self.engine.update_aliases([{"remove": {"index": old, "alias": self.alias}},
                                    {"add": {"index": new, "alias": self.alias, "filter": NOT_REMOVED}}])
        return new

    def ping(self) -> bool:
        return self.engine.ping()

    def describe(self) -> str:
        version = self.engine.info().get("version", {})
        return (f"{self.engine.kind} {version.get('number', '?')} at {self.settings.url} "
                f"(alias {self.alias}, index {', '.join(self.engine.alias_targets(self.alias)) or 'none yet'})")

    # ------------------------------------------------------------------ writes
    def _operation(self, policy_id: int, lsn: int) -> dict[str, Any]:
        return {"index": {"_index": self.write_alias, "_id": str(policy_id), "version": lsn,
                          "version_type": "external_gte"}}

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        """Index each document at version = LSN.

        A repair carries the version it read (``StoredVersion.write_version``)."""
        self._bulk(self._upserts(records), len(records))

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        """Index a removal marker over each document at version = LSN."""
        self._bulk(self._removals(removals), len(removals))

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        """Upserts and removal markers in one bulk request."""
        self._bulk(self._upserts(records) + self._removals(removals), len(records) + len(removals))

    def _upserts(self, records: Sequence[SinkRecord]) -> list[BulkLine]:
        operations: list[BulkLine] = []
        for r in records:  # the document as ``project`` gives it, serialized once (``PolicyDocument.to_json``)
            doc = r.document.to_json(lsn=r.lsn, content_hash=r.content_hash, row_digest=r.row_digest, removed=False)
            operations += [self._operation(r.policy_id, r.lsn), doc]
        return operations

    def _removals(self, removals: Sequence[Removal]) -> list[BulkLine]:
        operations: list[BulkLine] = []
        removed_at = int(time.time())
        for r in removals:
            operations += [self._operation(r.policy_id, r.lsn),
                           {"id": r.policy_id, "lsn": r.lsn, "content_hash": "", "removed": True,
                            "removed_at": removed_at}]
        return operations

    def _bulk(self, operations: list[BulkLine], count: int) -> None:
        if not operations:
            return
        items = self.engine.bulk(operations, refresh=self.settings.refresh)
        transient: list[str] = []
        refused: list[str] = []
        for item in items:
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if status < 300 or status == 409:  # 409: an equal-or-newer version is stored (stale event)
                continue
            error = result.get("error") or {}
            reason = f"policy {result.get('_id')}: {error.get('type', status)}: {str(error.get('reason'))[:300]}"
            (transient if status in TRANSIENT_STATUS else refused).append(reason)
        if transient:
            raise TransientError(f"search engine refused {len(transient)} of {count} writes for now: {transient[0]}",
                                 code=ErrorCode.ELASTICSEARCH_SYNC_FAILED)
        if refused:
            raise DataError(f"search engine refused {len(refused)} of {count} documents: {refused[0]}",
                            code=ErrorCode.ELASTICSEARCH_SYNC_FAILED,
                            hint="the mapping (cdc_sinks/search/template.py) cannot take this document")

    # ------------------------------------------------------------------- reads
    def project(self, record: SinkRecord) -> dict[str, Any]:
        return record.document.model_dump(mode="json")

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        ready = self._refresh_for_reading() if after_id <= 0 else bool(self.engine.alias_targets(self.alias))
        if not ready:  # no index behind the alias: the target holds nothing
            return []
        body = {"size": limit, "sort": [{"id": "asc"}], "_source": ["id", "lsn", "content_hash", "row_digest"],
                "version": True, "query": self._active_ids({"gt": after_id})}
        hits = self.engine.search(self.alias, body)["hits"]["hits"]
        return [StoredVersion(policy_id=int(h["_source"]["id"]), lsn=int(h["_source"]["lsn"]),
                              content_hash=h["_source"]["content_hash"], extra={"index": h["_index"]},
                              row_digest=h["_source"].get("row_digest"), guard=h.get("_version"))
                for h in hits]

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        """The ``_source`` of each id as searches get it (through the read alias), with ``_version``."""
        if not ids or not self._refresh_for_reading():
            return {}
        body = {"size": 2 * len(ids), "version": True,
                "query": {"bool": {"filter": [{"ids": {"values": [str(i) for i in ids]}}],
                                   "must_not": [{"term": {"removed": True}}]}}}
        by_id: dict[int, list[dict[str, Any]]] = {}
        for hit in self.engine.search(self.alias, body)["hits"]["hits"]:
            if hit["_id"].isdigit():
                by_id.setdefault(int(hit["_id"]), []).append(hit)
        current = self.engine.alias_targets(self.write_alias)
        return {policy_id: self._stored_record(policy_id, hits, current) for policy_id, hits in by_id.items()}

    @staticmethod
    def _stored_record(policy_id: int, hits: list[dict[str, Any]], current: list[str]) -> StoredRecord:
        hit = next((h for h in hits if h["_index"] in current), hits[0])
        source: Mapping[str, Any] = hit["_source"]
        defects = [Defect(DefectKind.METADATA, f"also in index {h['_index']} behind the read alias")
                   for h in hits if h is not hit]
        if hit["_index"] not in current:
            defects.append(Defect(DefectKind.METADATA, f"in index {hit['_index']}, not the write index {current}"))
        lsn, content_hash, digest = source.get("lsn"), source.get("content_hash"), source.get("row_digest")
        version = None
        if isinstance(lsn, int) and isinstance(content_hash, str):
            version = StoredVersion(policy_id, lsn, content_hash, extra={"index": hit["_index"]},
                                    row_digest=digest if isinstance(digest, int) else None, guard=hit.get("_version"))
            if hit.get("_version") != lsn:
                defects.append(Defect(DefectKind.METADATA, f"engine _version {hit.get('_version')} differs from the "
                                                           f"stored lsn {lsn} (a write outside the sink)"))
            if digest != row_digest(policy_id, content_hash):
                defects.append(Defect(DefectKind.METADATA,
                                      f"row_digest {digest} is not the digest of its content hash"))
        else:
            defects.append(Defect(DefectKind.METADATA, "lsn or content_hash missing from the document"))
        content = {k: v for k, v in source.items() if k not in BOOKKEEPING}
        return StoredRecord(policy_id, version, content, tuple(defects))

    def stray_ids(self) -> set[int]:
        return set()

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        """Delete marker documents older than ``written_before``, each at the version it was read with."""
        if not self.engine.alias_targets(self.write_alias):
            return 0
        self.engine.refresh(self.write_alias)
        old = {"bool": {"filter": [{"term": {"removed": True}}],
                        "should": [{"range": {"removed_at": {"lt": int(written_before)}}},
                                   {"bool": {"must_not": [{"exists": {"field": "removed_at"}}]}}],
                        "minimum_should_match": 1}}
        purged, after = 0, -1
        while True:
            body = {"size": PURGE_PAGE, "sort": [{"id": "asc"}], "_source": ["id"], "version": True,
                    "query": {"bool": {"filter": [old, {"range": {"id": {"gt": after}}}]}}}
            hits = self.engine.search(self.write_alias, body)["hits"]["hits"]
            if not hits:
                return purged
            after = int(hits[-1]["_source"]["id"])
            operations = [{"delete": {"_index": h["_index"], "_id": h["_id"], "version": h["_version"],
                                      "version_type": "external_gte"}}
                          for h in hits if int(h["_source"]["id"]) not in keep]
            if operations:
                items = self.engine.bulk(operations, refresh="false")
                purged += sum(1 for item in items if int(item["delete"].get("status", 500)) < 300)

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        """A composite aggregation over ``id`` ranges with the sum of ``row_digest`` each, in pages."""
        if not self._refresh_for_reading():
            return {}
        bounds = {"gte": lo} | ({"lt": hi} if hi is not None else {})
        ranges = {"size": CHECKSUM_PAGE, "sources": [{"r": {"histogram": {"field": "id", "interval": range_size}}}]}
        body: dict[str, Any] = {"size": 0, "query": self._active_ids(bounds),
                                "aggs": {"ranges": {"composite": ranges,
                                                    "aggs": {"digest": {"sum": {"field": "row_digest"}}}}}}
        checksums: dict[int, RangeChecksum] = {}
        while True:
            answer = self.engine.search(self.alias, body)["aggregations"]["ranges"]
            for bucket in answer["buckets"]:
                checksums[int(bucket["key"]["r"]) // range_size] = RangeChecksum(
                    count=int(bucket["doc_count"]), digest=round(bucket["digest"]["value"]))
            if len(answer["buckets"]) < CHECKSUM_PAGE or "after_key" not in answer:
                return checksums
            ranges["after"] = answer["after_key"]

    def _refresh_for_reading(self) -> bool:
        """Make every write searchable before a reconciler read; False if there is no read alias (nothing to read)."""
        if not self.engine.alias_targets(self.alias):
            return False
        self.engine.refresh(self.alias)
        return True

    @staticmethod
    def _active_ids(id_bounds: dict[str, int]) -> dict[str, Any]:
        return {"bool": {"filter": [{"range": {"id": id_bounds}}], "must_not": [{"term": {"removed": True}}]}}

    def count(self) -> int:
        if not self.engine.alias_targets(self.alias):
            return 0
        return self.engine.count(self.alias)

    def drop_namespace(self) -> None:
        """Delete every index behind this sink's aliases (its whole namespace: tests, benchmarks)."""
        for index in set(self.engine.alias_targets(self.alias) + self.engine.alias_targets(self.write_alias)):
            self.engine.delete_index(index)

    def close(self) -> None:
        self.engine.close()


def build_engine(search: SearchSettings) -> SearchEngine:
    if search.engine == "elasticsearch":
        return ElasticsearchEngine(search)
    return OpenSearchEngine(search)


def build_search_sink(settings: Settings) -> SearchSink:
    return SearchSink(build_engine(settings.search), settings.search)
