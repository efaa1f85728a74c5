"""The graph a policy becomes: one ``:Policy`` node and its edges to shared dimension nodes.

::

    (:Policy {id, title, status, lsn, content_hash, links_hash, source_system, source_id, target_industry,
              application_start_date, application_end_date, application_period_text,
              application_always_open, original_url, quality_score, updated_at})
      -[:ISSUED_BY]->        (:Organization {key, name})
      -[:EXECUTED_BY]->      (:Organization {key, name})
      -[:TARGETS_REGION]->   (:Region {key, name})
      -[:IN_FIELD]->         (:Field {key, name})
      -[:FOR_GROUP]->        (:TargetGroup {key, name})
      -[:HAS_FUNDING_TYPE]-> (:FundingType {key, name})
      -[:FROM_SOURCE]->      (:Source {key, name})

    (:RemovedPolicy {id, lsn})   removal marker, never connected to anything

The policy's free text and contact fields stay out of the graph (search and vectors hold text;
the graph holds relations, and no personal data at all).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from cdc_sinks.base import PolicyDocument, SinkRecord
from cdc_sinks.checksums import row_digest
from cdc_sinks.neo4j import normalise
from cdc_sinks.neo4j.normalise import DimensionName

POLICY = "Policy"
REMOVED_POLICY = "RemovedPolicy"


@dataclass(frozen=True)
class Dimension:
    """One kind of edge from a policy: its relationship type, the target's label, and the row field."""

    relationship: str
    label: str
    field: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("ISSUED_BY", "Organization", "issued_by"),
    Dimension("EXECUTED_BY", "Organization", "executed_by"),
    Dimension("TARGETS_REGION", "Region", "regions"),
    Dimension("IN_FIELD", "Field", "fields"),
    Dimension("FOR_GROUP", "TargetGroup", "target_groups"),
    Dimension("HAS_FUNDING_TYPE", "FundingType", "funding_types"),
    Dimension("FROM_SOURCE", "Source", "sources"),
)
DIMENSION_LABELS: tuple[str, ...] = tuple(dict.fromkeys(d.label for d in DIMENSIONS))


NODE_PROPERTIES: tuple[str, ...] = (
    "id", "title", "status", "source_system", "source_id", "target_industry", "application_start_date",
    "application_end_date", "application_period_text", "application_always_open", "original_url",
    "quality_score", "updated_at")
"""The ``PolicyDocument`` fields a ``:Policy`` node holds (besides ``lsn`` and ``content_hash``), typed
as the document types them."""

TEMPORAL_PROPERTIES: dict[str, str] = {
    "updated_at": "CASE WHEN row.updated_at_seconds IS NULL THEN null "
                  "ELSE datetime.fromepoch(row.updated_at_seconds, row.updated_at_nanos) END",
    "application_start_date": "date(row.application_start_date)",
    "application_end_date": "date(row.application_end_date)",
}
"""Node properties a row carries outside ``props``, with the Cypher that makes each temporal again: the
driver's Python packing of one ``datetime`` costs ~35 µs, more than the rest of the row. ``updated_at``
travels as its epoch seconds and nanoseconds (two integers: ~1.5 µs less than ISO text per row, and no
parsing in Neo4j), the dates as ISO text (a few distinct values, each formatted once)."""
_PLAIN_PROPERTIES: tuple[str, ...] = tuple(p for p in NODE_PROPERTIES if p not in TEMPORAL_PROPERTIES)
_plain_values = itemgetter(*_PLAIN_PROPERTIES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_parts(value: datetime) -> tuple[int, int]:
    """Seconds since the Unix epoch (floored) and the nanoseconds past them; a naive value is taken as UTC."""
    delta = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1000


@lru_cache(maxsize=4096)
def _iso_date(value: date) -> str:
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class PolicyDimensions:
    """The dimension nodes one policy's organisations, regions, categories and source make, with the
    relationships to them as ``TYPE:key`` text (sorted, newline-joined) and its hash.

    Derived once per distinct set of those values (``dimensions_of`` is cached): an update rarely
    changes them, and deriving them took a third of the sink's per-policy Python."""

    row_fields: dict[str, list[str] | None] = field(hash=False)
    """The dimensions as a batch row carries them (``GraphPolicy.to_parameters``): per ``DIMENSIONS``
    entry the target nodes' keys (``regions``) and their names where one differs from its key, else
    None (``regions_names``). Built once; every row of this set shares these lists: rows go to the
    driver and are never changed."""
    links_text: str
    links_hash: str

    @property
    def links(self) -> list[str]:
        return self.links_text.split("\n") if self.links_text else []


@lru_cache(maxsize=normalise.CACHED_VALUES)
def dimensions_of(issuing_organization: str, executing_organization: str | None, target_regions: tuple[str, ...],
                  support_field: str | None, target_group: str | None, funding_type: str | None,
                  source_system: str) -> PolicyDimensions:
    """The ``PolicyDimensions`` of these document values (remembered: the values repeat)."""
    targets: dict[str, tuple[DimensionName, ...]] = {
        "issued_by": _present([normalise.organisation(issuing_organization)]),
        "executed_by": _present([normalise.organisation(executing_organization)]),
        "regions": _present([normalise.region(r) for r in target_regions]),
        "fields": tuple(normalise.categories(support_field)),
        "target_groups": tuple(normalise.categories(target_group)),
        "funding_types": tuple(normalise.categories(funding_type)),
        "sources": tuple(normalise.categories(source_system)),
    }
    row_fields: dict[str, list[str] | None] = {}
    relationships: list[str] = []
    for dimension in DIMENSIONS:
        keys = [d.key for d in targets[dimension.field]]
        names = [d.name for d in targets[dimension.field]]
        row_fields[dimension.field] = keys
        row_fields[f"{dimension.field}_names"] = None if names == keys else names
        relationships += (f"{dimension.relationship}:{key}" for key in keys)
    links = "\n".join(sorted(relationships))
    return PolicyDimensions(row_fields=row_fields, links_text=links,
                            links_hash=hashlib.sha256(links.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class GraphPolicy:
    """A policy as written to the graph: its document (the node's properties), its version, and the
    dimension nodes it points at.

    A plain dataclass over the already validated document: as pydantic models, validating the node and
    the dimension lists again cost a third of the sink's per-policy Python."""

    document: PolicyDocument
    lsn: int
    content_hash: str
    dimensions: PolicyDimensions

    @classmethod
    def from_record(cls, record: SinkRecord) -> GraphPolicy:
        doc = record.document
        return cls(document=doc, lsn=record.lsn, content_hash=record.content_hash,
                   dimensions=dimensions_of(doc.issuing_organization, doc.executing_organization,
                                            tuple(doc.target_regions), doc.support_field, doc.target_group,
                                            doc.funding_type, doc.source_system))

    @property
    def node(self) -> dict[str, Any]:
        """The ``:Policy`` node's properties, as Python values."""
        doc = self.document
        return {name: getattr(doc, name) for name in NODE_PROPERTIES}

    @property
    def links(self) -> list[str]:
        """The policy's outgoing relationships as ``TYPE:key`` text, sorted."""
        return self.dimensions.links

    def to_parameters(self) -> dict[str, Any]:
        """One row of the batch upsert's ``$rows`` parameter.

        Each dimension travels as a list of keys (``regions``) and, only where a name differs from
        its key, a parallel list of names (``regions_names``); the links as one newline-joined text.
        The driver packs every object of the row one by one (~0.5 µs each): a list of ``{key, name}``
        maps per dimension and a list of link texts made the row of a policy for the 17 시도 cost
        ~20 µs more than the rest of it. Keys and names never hold a newline (``normalise``
        collapses whitespace). The dimension lists are ``PolicyDimensions.row_fields``', shared by
        every row of the same dimensions (building 14 lists per row was half the row's cost).
        """
        doc, dimensions = self.document, self.dimensions
        fields = doc.__dict__  # a pydantic model's field values: one C lookup for all ten, not ten getattr
        row: dict[str, Any] = {"id": doc.id, "lsn": self.lsn, "content_hash": self.content_hash,
                               "row_digest": row_digest(doc.id, self.content_hash),
                               "props": dict(zip(_PLAIN_PROPERTIES, _plain_values(fields), strict=True)),
                               "links": dimensions.links_text, "links_hash": dimensions.links_hash}
        updated, start, end = fields["updated_at"], fields["application_start_date"], fields["application_end_date"]
        row["updated_at_seconds"], row["updated_at_nanos"] = (None, None) if updated is None else epoch_parts(updated)
        row["application_start_date"] = None if start is None else _iso_date(start)
        row["application_end_date"] = None if end is None else _iso_date(end)
        row.update(dimensions.row_fields)
        return row


def _present(names: list[DimensionName | None]) -> tuple[DimensionName, ...]:
    unique: dict[str, DimensionName] = {}
    for name in names:
        if name is not None:
            unique.setdefault(name.key, name)
    return tuple(unique.values())
