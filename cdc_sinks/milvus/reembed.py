"""Re-embed every policy with a new model version into a new collection, then swap the alias.

Run it with the *new* ``EMBEDDING_*`` settings while the sink still runs with the old ones:

1. **create** the new version's collection (``<alias>_<version slug>_<hash>``, same schema with
   the new model's dimension);
2. **copy**: page through the live collection by id; each row's stored source text is embedded
   with the new model (batched) and written with the same ``lsn``, ``content_hash`` and scalar
   fields. Rows the new collection already holds at the same LSN and model version are skipped,
   so an interrupted run resumes where it stopped (nothing is embedded twice). Blank removal
   markers are copied without a model call;
3. **catch up**: the running sink kept writing to the live collection; rows whose live LSN is
   newer than the copy's are copied again, until a pass finds none;
4. **swap** the alias to the new collection, then one more catch-up pass for a batch the old sink
   had in flight. The old sink notices the alias moved at its next batch and stops with a
   ``TerminalError`` naming the new model version: restart it with the new settings.

The old collection is kept for rollback (``alter alias`` back) unless ``drop_old`` is set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from aegis.errors import ErrorCode, TerminalError
from cdc_sinks.milvus.collection import SCALAR_FIELDS, blank_marker, fit, same_vectors
from cdc_sinks.milvus.sink import MilvusSink

log = logging.getLogger(__name__)

MAX_CATCH_UP_PASSES = 10


@dataclass(frozen=True)
class ReembedProgress:
    phase: str
    done: int
    total: int
    embedded: int
    texts_per_second: float


class ReembedReport(BaseModel):
    alias: str
    from_collection: str
    from_version: str
    to_collection: str
    to_version: str
    rows: int = 0
    embedded: int = 0
    skipped: int = 0
    catch_up_rows: int = 0
    seconds: float = 0.0
    swapped: bool = False
    dropped_old: bool = False


class Reembedder:
    """Builds the new model version's collection from the live one (see module doc)."""

    def __init__(self, sink: MilvusSink, *, page_size: int = 500,
                 progress: Callable[[ReembedProgress], None] = lambda _: None):
        self.sink = sink
        self.store = sink.store
        self.embedder = sink.embedder
        self.page_size = page_size
        self.progress = progress
        self._embedded = 0
        self._started = time.monotonic()

    def run(self, *, drop_old: bool = False) -> ReembedReport:
        alias = self.sink.alias
        live = self.store.alias_target(alias)
        if live is None:
            raise TerminalError(f"milvus alias {alias!r} does not exist: there is nothing to re-embed",
                                code=ErrorCode.MILVUS_SYNC_FAILED,
                                hint="start the sink (`aegis sinks run milvus`): it creates the collection with "
                                     "the configured model")
        live_version = self.store.description(live)
        if same_vectors(live_version, self.embedder.version):
            log.info("reembed: the alias already points at this model version's vectors",
                     extra={"collection": live, "model_version": live_version})
            return ReembedReport(alias=alias, from_collection=live, from_version=live_version, to_collection=live,
                                 to_version=self.embedder.version)
        target = self.sink.create_collection(self.embedder.version)
        report = ReembedReport(alias=alias, from_collection=live, from_version=live_version, to_collection=target,
                               to_version=self.embedder.version)
        self._started = time.monotonic()
        total = self.store.count(live, "id >= 0")
        report.rows, report.skipped = self._copy(live, target, total)
        for _ in range(MAX_CATCH_UP_PASSES):
            changed = self._catch_up(live, target)
            report.catch_up_rows += changed
            if not changed:
                break
        self.store.run(lambda c: c.alter_alias(target, alias, timeout=self.store.ddl_timeout), "alter alias")
        report.swapped = True
        time.sleep(1.0)  # let a batch the old sink had in flight land, then take it over
        report.catch_up_rows += self._catch_up(live, target)
        if drop_old:
            self.store.run(lambda c: c.drop_collection(live, timeout=self.store.ddl_timeout), "drop collection")
            report.dropped_old = True
        report.embedded = self._embedded
        report.seconds = round(time.monotonic() - self._started, 2)
        log.info("reembed finished", extra=report.model_dump())
        return report

    # ------------------------------------------------------------------ phases
    def _copy(self, live: str, target: str, total: int) -> tuple[int, int]:
        after, done, skipped = -1, 0, 0
        while True:
            rows = self.store.query(live, f"id > {after}", SCALAR_FIELDS, limit=self.page_size)
            if not rows:
                return done, skipped
            rows.sort(key=lambda r: r["id"])
            after = int(rows[-1]["id"])
            held = {int(r["id"]): r for r in self.store.query_ids(target, [r["id"] for r in rows],
                                                                  ["id", "lsn", "model_version"])}
            todo = [r for r in rows if not self._current(held.get(int(r["id"])), r)]
            skipped += len(rows) - len(todo)
            self._write(target, todo)
            done += len(rows)
            self._report("copy", done, total)

    def _catch_up(self, live: str, target: str) -> int:
        """Copy rows whose live LSN is newer than (or missing in) the new collection; return how many."""
        after, changed = -1, 0
        while True:
            rows = self.store.query(live, f"id > {after}", ["id", "lsn"], limit=5000)
            if not rows:
                return changed
            rows.sort(key=lambda r: r["id"])
            after = int(rows[-1]["id"])
            held = {int(r["id"]): int(r["lsn"]) for r in self.store.query_ids(target, [r["id"] for r in rows],
                                                                             ["id", "lsn"])}
            newer = [int(r["id"]) for r in rows if held.get(int(r["id"]), -1) < int(r["lsn"])]
            if newer:
                full = self.store.query_ids(live, newer, SCALAR_FIELDS)
                self._write(target, full)
                changed += len(full)
                self._report("catch-up", changed, changed)

    def _current(self, held: dict | None, row: dict) -> bool:
        if held is None or int(held["lsn"]) != int(row["lsn"]):
            return False
        if not row["model_version"]:
            return held["model_version"] == ""
        return same_vectors(held["model_version"], self.embedder.version)

    def _write(self, target: str, rows: list[dict]) -> None:
        if not rows:
            return
        dimension = self.embedder.dimension
        with_text = [r for r in rows if r["model_version"]]  # blank markers have no text to embed
        vectors = self.embedder.embed([r["text"] for r in with_text]) if with_text else np.zeros((0, dimension))
        self._embedded += len(with_text)
        by_id = {int(r["id"]): v.tolist() for r, v in zip(with_text, vectors, strict=True)}
        entities = []
        for row in rows:
            if not row["model_version"]:
                entities.append(blank_marker(int(row["id"]), int(row["lsn"]), dimension))
                continue
            entity = {name: row[name] for name in SCALAR_FIELDS}
            entity["regions"] = list(entity["regions"] or [])
            entity["vector"] = by_id[int(row["id"])]
            entity["model_version"] = fit(self.embedder.version, "model_version")
            entities.append(entity)
        self.store.upsert(target, entities)

    def _report(self, phase: str, done: int, total: int) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.progress(ReembedProgress(phase, done, total, self._embedded, self._embedded / elapsed))
