"""The contract every target sink keeps.

The runtime decodes change events, coalesces them per policy by LSN, applies the active-view
rule (status ``active`` → upsert; anything else, a delete or a tombstone → removal) and hands
each sink two kinds of batch:

* ``upsert_batch([SinkRecord])`` — write these documents;
* ``remove_batch([Removal])`` — make these policies absent;

and writes each micro-batch's two together, ``write_batch(records, removals)``, in one round trip
where the store allows (a request or a transaction per batch costs the sink ~1 ms of CPU).

Every sink guarantees, inside its own store:

1. **No stale writes.** Each stored record carries the source ``lsn`` and ``content_hash``. An
   upsert or removal whose LSN is *lower* than what the store holds for that id is ignored
   (equal LSN upserts are idempotent rewrites).
2. **No resurrection.** A removal leaves a marker with its LSN (``FINAL_LSN`` for a delete or
   tombstone: policy ids are never reused) and the time it was written, so an older upsert
   replayed later cannot bring the policy back. Markers are invisible to the active view and to
   ``read_back``; the reconciler purges them once no event still in Kafka can be older
   (``purge_markers``, ``reconciler.markers``).
3. **Errors are translated** into ``aegis.errors``: ``TransientError`` when the target is
   unreachable or overloaded (the runtime retries, then pauses), ``DataError`` for a record the
   target can never take (the runtime isolates it and dead-letters it), ``TerminalError`` else.

For the reconciler every sink also reads its target back, in two depths:

* **lean** — ``range_checksums`` and ``read_back``: the bookkeeping the sink stored with each
  record (LSN, content hash, digest), cheap enough for every pass;
* **deep** — ``read_records``: what a *reader* of the target sees for each policy (the search
  ``_source``, the graph node with its relationships, the cached JSON, the vector row), projected
  to the same shape as ``project`` makes from PostgreSQL's row, plus the defects the sink can see
  in its own structure (``Defect``: a partial record, bookkeeping that contradicts the content).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, cast, runtime_checkable

import orjson
from pydantic import ConfigDict, ValidationInfo, field_validator

from aegis.models.policy import PolicyDescription, PolicyRow, debezium_date, debezium_timestamp
from aegis.privacy import mask_column
from cdc_sinks.checksums import RangeChecksum, row_digest

FINAL_LSN = 2**63 - 1
"""LSN recorded for a delete or tombstone: nothing may overwrite it."""


_CONTACT_FIELDS = ("contact_email", "contact_phone", "contact_address")


class PolicyDocument(PolicyDescription):
    """What leaves PostgreSQL for a target: the active policy, personal data masked, no raw payload.

    Built from a change event's row image (``from_image``: Debezium's column encodings, as the
    change stream carries them) or from a stored row (``from_row``). The change stream carries
    masked text already (the collector masks before it writes, docs/privacy.md); validation applies
    the same policy to the three contact fields once more, as defence in depth (idempotent, and
    cached: the values repeat), however a document is built.
    """

    model_config = ConfigDict(frozen=True)

    id: int
    source_system: str
    source_id: str
    title: str
    content: str
    issuing_organization: str
    status: str
    quality_score: float | None = None
    updated_at: datetime | None = None

    @field_validator("application_start_date", "application_end_date", mode="before")
    @classmethod
    def _epoch_days(cls, value: Any) -> Any:
        return debezium_date(value)

    @field_validator("updated_at", mode="before")
    @classmethod
    def _epoch_micros(cls, value: Any) -> Any:
        return debezium_timestamp(value)

    @field_validator(*_CONTACT_FIELDS)
    @classmethod
    def _masked(cls, value: str | None, info: ValidationInfo) -> str | None:
        return mask_column(cast(str, info.field_name), value) if value is not None else None  # set for a field

    @classmethod
    def from_image(cls, image: Mapping[str, Any]) -> PolicyDocument:
        """The document of a change event's row image (``ChangeEvent.after_image``); columns no target
        receives are neither read nor validated. Raises ``ValidationError`` (a ``ValueError``)."""
        return cls.model_validate(image)

    @classmethod
    def from_row(cls, row: PolicyRow) -> PolicyDocument:
        # validated from the row's own field dict (extra fields ignored): 4.5 µs, where reading its
        # attributes (``from_attributes``) took 5.9 µs and a dump and a validate more
        return cls.model_validate(row.__dict__)

    def to_json(self, **bookkeeping: Any) -> bytes:
        """The document as JSON, byte for byte ``model_dump_json()`` (a property test holds them equal),
        with ``bookkeeping`` fields after its own: orjson over the validated fields takes ~2.5 µs where
        pydantic's serializer takes ~5.7 µs, on every upsert of the search and Redis sinks."""
        fields = {**self.__dict__, **bookkeeping} if bookkeeping else self.__dict__
        return orjson.dumps(fields, option=orjson.OPT_UTC_Z)


@dataclass(frozen=True)
class SinkRecord:
    """One policy to upsert, with the version it was built from."""

    policy_id: int
    lsn: int
    content_hash: str
    document: PolicyDocument

    @property
    def row_digest(self) -> int:
        """The digest a target stores beside the record for range checksums (``cdc_sinks.checksums``)."""
        return row_digest(self.policy_id, self.content_hash)


@dataclass(frozen=True)
class Removal:
    """One policy to make absent. ``lsn`` is ``FINAL_LSN`` for deletes and tombstones."""

    policy_id: int
    lsn: int


def newest_per_policy(items: Sequence[SinkRecord] | Sequence[Removal]) -> list:
    """The highest-LSN item of each policy, in first-seen order. The runtime's planner already sends one
    change per policy; a sink whose store cannot take two writes of one key in a call applies this."""
    newest: dict[int, SinkRecord | Removal] = {}
    for item in items:
        held = newest.get(item.policy_id)
        if held is None or held.lsn <= item.lsn:
            newest[item.policy_id] = item
    return list(newest.values())


@dataclass(frozen=True)
class StoredVersion:
    """What a target holds for one policy, as the reconciler compares it."""

    policy_id: int
    lsn: int
    content_hash: str
    extra: dict[str, str] = field(default_factory=dict)
    row_digest: int | None = None
    """The digest the target's own range checksums count for this record: stored with it (search,
    Neo4j, Redis), or derived from its hash (Milvus)."""
    guard: int | None = None
    """The version the target's own stale-write guard compares against, where that is not ``lsn``
    (the search engine's ``_version``: an ``_update`` through its API raises it above the LSN)."""

    @property
    def write_version(self) -> int:
        """The LSN a repair must carry to pass the target's guard without beating a newer change."""
        return max(self.lsn, self.guard or 0)


class DefectKind(str, Enum):
    PARTIAL = "partial"    # a part of the record is gone (document without version, node without edges)
    METADATA = "metadata"  # the bookkeeping contradicts itself or the content (hash, digest, guard)


@dataclass(frozen=True)
class Defect:
    """Something wrong in how one record is stored, that its content alone does not show."""

    kind: DefectKind
    detail: str


@dataclass(frozen=True)
class StoredRecord:
    """One policy as a reader of the target sees it, with the sink's bookkeeping (a deep read).

    ``content`` has the shape ``Sink.project`` gives PostgreSQL's row (None: a reader gets nothing);
    ``version`` is the bookkeeping stored with it (None: none).
    """

    policy_id: int
    version: StoredVersion | None
    content: Mapping[str, Any] | None
    defects: tuple[Defect, ...] = ()


@runtime_checkable
class Sink(Protocol):
    """A target store. Each lives in its own folder ``cdc_sinks/<name>/`` (see ``cdc_sinks.spec``)."""

    name: str

    def ensure_ready(self) -> None:
        """Create indexes, collections, constraints idempotently. Raise ``TransientError`` if unreachable."""

    def ping(self) -> bool:
        """True when the target answers (used to resume paused partitions)."""

    def describe(self) -> str:
        """The server and where this sink writes in it (version, address, namespace), for people."""

    def upsert_batch(self, records: Sequence[SinkRecord], *, rewrite: bool = False) -> None:
        """Write every record, skipping those older than what is stored (see module doc).

        ``rewrite``: a repair — rewrite everything derived from the record (edges, vectors), taking
        none of the shortcuts a replay of an unchanged record may take.
        """

    def remove_batch(self, removals: Sequence[Removal]) -> None:
        """Remove every policy, leaving an LSN marker; skip removals older than what is stored."""

    def write_batch(self, records: Sequence[SinkRecord], removals: Sequence[Removal]) -> None:
        """``upsert_batch(records)`` and ``remove_batch(removals)`` (of distinct policies, as a batch plan
        gives them) in as few round trips as the store allows: one bulk request, one transaction, one
        pipeline. The runtime writes every micro-batch through this; a ``DataError`` refuses the call.
        """

    def read_back(self, after_id: int, limit: int) -> list[StoredVersion]:
        """Active records with id > ``after_id``, ordered by id, at most ``limit`` (markers excluded)."""

    def range_checksums(self, range_size: int, lo: int, hi: int | None) -> dict[int, RangeChecksum]:
        """Checksum of every non-empty range among the active records with lo ≤ id < hi (hi None: no end).

        Keys are range indexes (``id // range_size``). A record stored without a digest counts
        with digest 0, so its range differs and the reconciler reads it.
        """

    def project(self, record: SinkRecord) -> dict[str, Any]:
        """What a reader of the target sees for ``record`` once written (the shape of ``read_records``)."""

    def read_records(self, ids: Sequence[int]) -> dict[int, StoredRecord]:
        """A deep read of ``ids``: every id the target holds anything of (content or bookkeeping)."""

    def stray_ids(self) -> set[int]:
        """Ids of records a reader can reach that the sink's own index of records does not list
        (Redis keys outside the id set); empty where every record is found by ``read_back``."""

    def purge_markers(self, written_before: float, keep: set[int]) -> int:
        """Delete removal markers written before ``written_before`` (epoch seconds), except those of
        ``keep``; each only if it is still the marker that was found (compare-and-set). Returns how many."""

    def count(self) -> int:
        """Number of active records held."""

    def drop_namespace(self) -> None:
        """Delete everything under this sink's namespace, markers included (tests, benchmarks)."""

    def close(self) -> None:
        """Release connections."""
