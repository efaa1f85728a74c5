"""The Milvus vector sink: one embedding per policy content, never computed twice.

Per batch the sink reads what Milvus holds for the batch's ids (``lsn``, ``content_hash``,
``model_version``, ``removed``; consistency ``MILVUS_CONSISTENCY_LEVEL``, Strong by default, so
it sees every write acknowledged before) and then, per policy:

* stored LSN higher than the event's → skip (no stale writes; a delete's marker has
  ``FINAL_LSN``, so nothing resurrects a deleted policy);
* same content hash and model version as stored, and a vector kept → **no model call**: the row
  is rewritten with the stored vector and the new scalar fields (status, quality, organisation,
  dates … change without re-embedding);
* otherwise the title + cleaned content is embedded (one batched model call per sink batch).

Removals upsert a marker row (``removed = true``) carrying the removal's LSN. A finite-LSN
removal (status left ``active``) keeps the stored vector and text, so a policy that comes back
unchanged is not embedded again; a delete or tombstone (``FINAL_LSN``) blanks them.

The alias ``MILVUS_COLLECTION_ALIAS`` must point at the collection of *this* sink's model
version; if it points at another, the sink refuses to write (``TerminalError``) and names
``aegis sinks reembed``, which builds the new collection and swaps the alias.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from aegis.errors import AegisError, ErrorCode, TerminalError
from aegis.settings import MilvusSettings, Settings
from cdc_sinks.base import (
    FINAL_LSN,
    Defect,
    DefectKind,
    Removal,
    SinkRecord,
    StoredRecord,
    StoredVersion,
    newest_per_policy,
)
from cdc_sinks.checksums import ID_CEILING, RangeChecksum, row_digest
from cdc_sinks.milvus.collection import (
    ACTIVE,
    ALL_FIELDS,
    StoredRow,
    blank_marker,
    build_schema,
    collection_name,
    index_params,
    kept_marker,
    marker_written_at,
    record_entity,
    same_vectors,
    source_text,
)
from cdc_sinks.milvus.embedder import Embedder, LazyEmbedder
from cdc_sinks.milvus.store import QUERY_WINDOW, MilvusStore

log = logging.getLogger(__name__)

CHECKSUM_READERS = 2
"""Concurrent window queries of one checksum scan (the server answers each on a core of its own)."""

VERSION_FIELDS = ["id", "lsn", "content_hash", "model_version", "removed"]
BOOKKEEPING = ("vector", "lsn", "content_hash")
"""Fields the sink keeps for itself (the vector is checked apart: by model version and norm)."""
NORM_TOLERANCE = 1e-2
"""An embedding is L2-normalised: a vector whose norm is further from 1 was not written by the sink."""


@dataclass
class WriteStats:
    """Counts since the sink started (logged per batch, read by tests and the benchmark)."""

    embedded: int = 0
    reused: int = 0
    stale: int = 0
    removed: int = 0
    embed_seconds: float = 0.0


class MilvusSink:
    """Writes policy embeddings to Milvus (see module doc)."""

    name = "milvus"

    def __init__(self, store: MilvusStore, milvus: MilvusSettings, embedder: Embedder):
        self.store = store
        self.settings = milvus
        self.alias = milvus.collection_alias
        self.embedder = embedder
        self.stats = WriteStats()
        self._collection: str | None = None

    # ------------------------------------------------------------------ set-up
    @property
    def collection(self) -> str:
        """The live collection (resolved by ``ensure_ready``)."""
        if self._collection is None:
            self.ensure_ready()
        return self._collection  # type: ignore[return-value]

    def ensure_ready(self) -> None:
        """Create this model version's collection, index and alias if there is no alias yet."""
        target = self.store.alias_target(self.alias)
        if target is None:
            name = self.create_collection(self.embedder.version)
            self._unless_done(lambda c: c.create_alias(name, self.alias, timeout=self.store.ddl_timeout),
                              "create alias", done=lambda: self.store.alias_target(self.alias) is not None)
            log.info("milvus collection created", extra={"collection": name, "alias": self.alias,
                                                         "model_version": self.embedder.version})
            target = self.store.alias_target(self.alias) or name
        self._use(target)

    def create_collection(self, model_version: str) -> str:
        """Create (idempotently) and load the collection for ``model_version``; return its name.

        Creating one is three steps on the server (collection, index, load). Another member of the
        sink may be between the first two, or may have died there, so a collection found without its
        index gets it here before it is loaded (loading an index-less collection is refused)."""
        from pymilvus import MilvusClient

        name = collection_name(self.alias, model_version)
        params = MilvusClient.prepare_index_params()
        params.add_index(**index_params(self.settings))
        if not self.store.has_collection(name):
            schema = build_schema(self.embedder.dimension, model_version)
            self._unless_done(lambda c: c.create_collection(name, schema=schema, index_params=params,
                                                            consistency_level=self.settings.consistency_level,
                                                            timeout=self.store.ddl_timeout),
                              "create collection", done=lambda: self.store.has_collection(name))
        if not self._indexed(name):
            self._unless_done(lambda c: c.create_index(name, params, timeout=self.store.ddl_timeout),
                              "create index", done=lambda: self._indexed(name))
        self.store.run(lambda c: c.load_collection(name, timeout=self.store.ddl_timeout), "load collection")
        return name

    def _unless_done(self, step: Callable[[Any], object], what: str, *, done: Callable[[], bool]) -> None:
        """Run a set-up ``step``; its failure is no error once ``done()`` holds (another member of the
        sink did it first)."""
        try:
            self.store.run(step, what)
        except TerminalError:
            if not done():
                raise

    def _indexed(self, collection: str) -> bool:
        return bool(self.store.run(lambda c: c.list_indexes(collection, timeout=self.store.timeout), "list indexes"))

    def _use(self, target: str) -> None:
        version = self.store.description(target)
        if not same_vectors(version, self.embedder.version):
            raise TerminalError(
                f"milvus alias {self.alias!r} points at {target} (model version {version!r}), "
                f"but this sink embeds with {self.embedder.version!r}",
                code=ErrorCode.MILVUS_SYNC_FAILED,
                hint="run `aegis sinks reembed` with these EMBEDDING_* settings to build the new collection and "
                     "swap the alias, or restore the EMBEDDING_* settings the live collection was built with")
        self._collection = target

    def _check_alias(self) -> str:
        target = self.store.alias_target(self.alias)
        if target is None:
            self.ensure_ready()
        elif target != self._collection:
            self._use(target)
        return self.collection

    def describe(self) -> str:
        version = self.store.run(lambda c: c.get_server_version(), "server version")
        return (f"milvus {version} at {self.settings.address} (alias {self.alias} → "
                f"{self.store.alias_target(self.alias) or 'none yet'}, model {self.embedder.version})")

    def ping(self) -> bool:
        """Milvus answers and the collection behind the alias serves the reads every write starts with
        (no alias yet: the write path creates it)."""
        if not self.store.ping():
            return False
        try:
            target = self.store.alias_target(self.alias)
        except AegisError:
            return False
        return target is None or self.store.serves_reads(target)

    # ------------------------------------------------------------------ writes
    def stored_rows(self, collection: str, ids: Sequence[int], fields: Sequence[str]) -> dict[int, StoredRow]:
        return {row.policy_id: row for row in map(StoredRow.from_entity, self.store.query_ids(collection, ids, fields))}

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        """Write the batch's newest record per policy; ``rewrite`` (a repair) embeds every one afresh."""
        collection = self._check_alias()
        latest = {r.policy_id: r for r in newest_per_policy(records)}  # one write per primary key
        stored = self.stored_rows(collection, list(latest), VERSION_FIELDS)
        version = self.embedder.version
        to_embed: list[SinkRecord] = []
        to_reuse: list[SinkRecord] = []
        for record in latest.values():
            held = stored.get(record.policy_id)
            if held is not None and held.lsn > record.lsn:
                self.stats.stale += 1
            elif (not rewrite and held is not None and held.content_hash == record.content_hash
                  and same_vectors(held.model_version, version)):
                to_reuse.append(record)
            else:
                to_embed.append(record)
        rows = self._reused_rows(collection, to_reuse) + self._embedded_rows(to_embed)
        self.store.upsert(collection, rows)
        log.debug("milvus batch written", extra={"embedded": len(to_embed), "reused": len(to_reuse),
                                                 "stale": len(latest) - len(rows)})

    def _reused_rows(self, collection: str, records: list[SinkRecord]) -> list[dict]:
        if not records:
            return []
        held = {int(e["id"]): e for e in self.store.query_ids(collection, [r.policy_id for r in records],
                                                              ["id", "vector", "text"])}
        rows = []
        for record in records:
            row = held[record.policy_id]
            rows.append(record_entity(record, row["text"], [float(x) for x in row["vector"]], self.embedder.version))
        self.stats.reused += len(rows)
        return rows

    def _embedded_rows(self, records: list[SinkRecord]) -> list[dict]:
        if not records:
            return []
        texts = [source_text(r) for r in records]
        started = time.perf_counter()
        try:
            vectors = self.embedder.embed(texts)
        except Exception as exc:  # a model failure is not the target's: stop, do not dead-letter
            raise TerminalError(f"embedding {len(texts)} texts failed: {exc!r}", code=ErrorCode.MILVUS_SYNC_FAILED,
                                hint="check EMBEDDING_* settings and the model files; the batch is retried "
                                     "when the sink restarts") from exc
        self.stats.embed_seconds += time.perf_counter() - started
        self.stats.embedded += len(records)
        return [record_entity(r, t, v.tolist(), self.embedder.version)
                for r, t, v in zip(records, texts, vectors, strict=True)]

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        """The upserts, then the removals (a Milvus write is per collection call; embedding dominates)."""
        if records:
            self.upsert_batch(records)
        if removals:
            self.remove_batch(removals)

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        collection = self._check_alias()
        latest = {r.policy_id: r.lsn for r in newest_per_policy(removals)}
        stored = self.stored_rows(collection, list(latest), ALL_FIELDS)
        rows = []
        for policy_id, lsn in latest.items():
            held = stored.get(policy_id)
            if held is not None and (held.lsn > lsn or (held.lsn == lsn and held.removed)):
                self.stats.stale += 1
                continue
            if lsn == FINAL_LSN or held is None or not held.model_version:
                rows.append(blank_marker(policy_id, lsn, self.embedder.dimension))
            else:
                rows.append(kept_marker(held, lsn))
        self.store.upsert(collection, rows)
        self.stats.removed += len(rows)

    # ------------------------------------------------------------------ reads
    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        """Through the alias: the live collection, also after a re-embed swapped it."""
        if self.store.alias_target(self.alias) is None:
            return []
        collection = self.alias
        result: list[StoredVersion] = []
        while len(result) < limit:
            window = min(QUERY_WINDOW, limit - len(result))
            rows = self.store.query(collection, f"id > {int(after_id)} and {ACTIVE}",
                                    ["id", "lsn", "content_hash", "model_version"], limit=window)
            rows.sort(key=lambda r: r["id"])
            result += [StoredVersion(int(r["id"]), int(r["lsn"]), r["content_hash"],
                                     {"model_version": r["model_version"]},
                                     row_digest=row_digest(int(r["id"]), r["content_hash"])) for r in rows]
            if len(rows) < window:
                break
            after_id = int(rows[-1]["id"])
        return result

    def project(self, record: SinkRecord) -> dict[str, Any]:
        entity = record_entity(record, source_text(record), [], self.embedder.version)
        return {k: v for k, v in entity.items() if k not in BOOKKEEPING}

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        """Every scalar field and the vector of each id through the alias (``MILVUS_CONSISTENCY_LEVEL``)."""
        if not ids or self.store.alias_target(self.alias) is None:
            return {}
        found: dict[int, StoredRecord] = {}
        for entity in self.store.query_ids(self.alias, ids, ALL_FIELDS):
            if entity.get("removed"):
                continue  # a removal marker: nothing a search returns
            policy_id = int(entity["id"])
            version = StoredVersion(policy_id, int(entity["lsn"]), entity.get("content_hash", ""),
                                    {"model_version": entity.get("model_version", "")},
                                    row_digest=row_digest(policy_id, entity.get("content_hash", "")))
            defects = []
            norm = float(np.linalg.norm(np.asarray(entity.get("vector") or [], dtype=np.float32)))
            if abs(norm - 1.0) > NORM_TOLERANCE:
                defects.append(Defect(DefectKind.PARTIAL, f"vector norm {norm:.3f}: not an embedding the sink wrote"))
            content = {k: (list(v) if k == "regions" else v) for k, v in entity.items() if k not in BOOKKEEPING}
            found[policy_id] = StoredRecord(policy_id, version, content, tuple(defects))
        return found

    def stray_ids(self) -> set[int]:
        return set()

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        """Marker rows whose ``status`` says they were written before the cut-off, deleted by an
        expression that also requires ``removed == true`` (a policy active again meanwhile stays)."""
        if self.store.alias_target(self.alias) is None:
            return 0
        purged, after = 0, -1
        while True:
            rows = self.store.query(self.alias, f"removed == true and id > {after}", ["id", "status"],
                                    limit=QUERY_WINDOW)
            if not rows:
                return purged
            rows.sort(key=lambda r: r["id"])
            after = int(rows[-1]["id"])
            old = [int(r["id"]) for r in rows
                   if marker_written_at(r.get("status") or "") < written_before and int(r["id"]) not in keep]
            for start in range(0, len(old), 1000):
                chunk = ",".join(map(str, old[start:start + 1000]))
                marked = f"id in [{chunk}] and removed == true"
                self.store.run(lambda c, marked=marked: c.delete(self.alias, filter=marked, timeout=self.store.timeout),
                               "delete markers", write=True)
            purged += len(old)
            if len(rows) < QUERY_WINDOW:
                return purged

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        """Computed here, from ``id`` and ``content_hash`` alone (Milvus 2.3 cannot aggregate).

        A lean read in windows of ``QUERY_WINDOW`` ids (a window cannot hold more rows than one
        query returns), ``CHECKSUM_READERS`` at a time, every window as of one instant (one
        consistency wait per scan, not per query). An empty window ends the stream of windows;
        the next id the collection holds, if any, starts a new one, so gaps and stray high ids
        cost one query each.
        """
        if self.store.alias_target(self.alias) is None:
            return {}
        as_of = self.store.timestamp_now()
        end = ID_CEILING if hi is None else hi

        def window(start: int) -> list[dict]:
            return self.store.query(self.alias, f"id >= {start} and id < {min(start + QUERY_WINDOW, end)} and {ACTIVE}",
                                    ["id", "content_hash"], limit=QUERY_WINDOW, as_of=as_of)

        def first_id_from(start: int) -> int | None:
            rows = self.store.query(self.alias, f"id >= {start} and id < {end} and {ACTIVE}", ["id"], limit=1,
                                    as_of=as_of)
            return int(rows[0]["id"]) if rows else None

        counts: dict[int, int] = {}
        sums: dict[int, int] = {}
        next_start = lo
        in_flight: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=CHECKSUM_READERS, thread_name_prefix="milvus-checksums") as pool:

            def submit(windows: int = 1) -> None:
                nonlocal next_start
                for _ in range(windows):
                    if next_start < end:
                        in_flight.append(pool.submit(window, next_start))
                        next_start += QUERY_WINDOW

            submit(2 * CHECKSUM_READERS)
            while in_flight:
                rows = in_flight.popleft().result()
                for r in rows:
                    index = r["id"] // range_size
                    counts[index] = counts.get(index, 0) + 1
                    sums[index] = sums.get(index, 0) + row_digest(r["id"], r["content_hash"])
                if rows:
                    submit()
                elif not in_flight and next_start < end and (first := first_id_from(next_start)) is not None:
                    next_start = first
                    submit(2 * CHECKSUM_READERS)
        return {i: RangeChecksum(count=counts[i], digest=sums[i]) for i in counts}

    def drop_namespace(self) -> None:
        """Drop the alias and every collection named after it, of any model version (tests, benchmarks)."""
        self.store.drop_namespace(self.alias)

    def count(self) -> int:
        if self.store.alias_target(self.alias) is None:
            return 0
        return self.store.count(self.alias, ACTIVE)

    def close(self) -> None:
        self.store.close()


def build_milvus_sink(settings: Settings) -> MilvusSink:
    """The sink for ``aegis sinks run milvus``; the model loads on its first use, once per process."""
    return MilvusSink(MilvusStore(settings.milvus), settings.milvus, LazyEmbedder(settings.embedding))
