"""Drift detection: PostgreSQL's active view against one target, cheap checksums first, content when it counts.

The id space is cut into ranges of ``RECONCILE_RANGE_SIZE`` ids. Two depths of comparison:

* **lean** — for every range both sides reduce their rows to a checksum (``cdc_sinks.checksums``:
  the row count and the sum of a 32-bit digest of ``(id, content_hash)`` per row). PostgreSQL
  computes all of them in one aggregate query, each target on its own server (or, for Milvus, from
  a lean read). This sees what changes the sinks' bookkeeping: missing and orphaned records, another
  version, a deleted cache document. It cannot see content edited behind the sink's back.
* **deep** — ``deep_range_diff`` reads every record of a range the way a reader of the target
  does (``Sink.read_records``) and compares it with the same projection of PostgreSQL's row
  (``Sink.project``), field by field, and with the sink's own structural checks (``Defect``).
  A range is read deep when its checksums differ, when it is in this pass's deep slice, or always
  with ``aegis reconcile --deep``.

Each difference is one ``Drift`` with its ``DriftKind``: missing, orphaned, stale (another
version), content (edited with the bookkeeping intact), metadata (bookkeeping edited, content
intact), partial (a part of the record gone) or wiped (the whole target empty).

Why the content hash and not the LSN is compared against PostgreSQL: PostgreSQL does not store
the LSN of a row's last change, and cannot be made to without a trigger — ``pg_current_wal_lsn()``
read inside the writing transaction is not that transaction's commit LSN, and a second ``UPDATE``
to record it would itself be a change streamed to every target. LSNs are used where they are
meaningful: to tell a change still in flight from drift (``reconciler.inflight``) and to write
repairs that pass a target's guard without hiding a later change (``reconciler.repair``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import psycopg
from psycopg.rows import dict_row

from aegis.db import scalar
from aegis.models.policy import PolicyRow
from cdc_sinks.base import DefectKind, PolicyDocument, Sink, SinkRecord, StoredRecord, StoredVersion
from cdc_sinks.checksums import RangeChecksum, row_digest

__all__ = ["ActiveView", "DeepPlan", "Drift", "DriftKind", "RangeChecksum", "RangeDiff", "ScanStats", "Segment",
           "classify", "deep_range_diff", "read_ids", "read_target", "row_digest", "segments"]

DOCUMENT_COLUMNS = sorted(set(PolicyDocument.model_fields) | {"content_hash"})
"""The ``policies`` columns a target's projection is built from (never ``raw_data``)."""


class DriftKind(str, Enum):
    MISSING = "missing"    # active in PostgreSQL, absent from the target
    ORPHANED = "orphaned"  # in the target, not active in PostgreSQL
    STALE = "stale"        # another version: content and content hash both differ from PostgreSQL's
    CONTENT = "content"    # content differs while the stored content hash is PostgreSQL's (edited in place)
    METADATA = "metadata"  # content is PostgreSQL's, the bookkeeping is not (hash, digest, guard, member)
    PARTIAL = "partial"    # a part of the record is gone (document without version, node without edges)
    WIPED = "wiped"        # active in PostgreSQL, and the target holds nothing at all


@dataclass(frozen=True, slots=True)
class Drift:
    """One record out of step in one target."""

    kind: DriftKind
    policy_id: int
    source_hash: str | None = None
    target_hash: str | None = None
    target_lsn: int | None = None
    write_version: int | None = None  # what a repair must carry to pass the target's guard
    detail: str = ""


@dataclass
class RangeDiff:
    """The record-level comparison of one range."""

    range_index: int
    drifts: list[Drift] = field(default_factory=list)
    records: int = 0  # records of the range read deep (target side)


@dataclass(frozen=True)
class DeepPlan:
    """Which ranges a pass reads deep besides the differing ones: all, one slice of ``slices``, or none."""

    every: bool = False
    slice_index: int | None = None
    slices: int = 0

    def includes(self, range_index: int) -> bool:
        if self.every:
            return True
        return self.slices > 0 and self.slice_index is not None and range_index % self.slices == self.slice_index

    def describe(self) -> str:
        if self.every:
            return "every range deep"
        if self.slices > 0 and self.slice_index is not None:
            return f"deep slice {self.slice_index + 1} of {self.slices}"
        return "no deep slice"


class ActiveView:
    """PostgreSQL's active view (``status = 'active'``) as the drift check reads it."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def range_checksums(self, range_size: int, lo: int | None = None,
                        hi: int | None = None) -> dict[int, RangeChecksum]:
        """Checksum of every non-empty range (index = id // range_size), optionally within [lo, hi)."""
        bounds = ""
        if lo is not None:
            bounds += " AND id >= %(lo)s"
        if hi is not None:
            bounds += " AND id < %(hi)s"
        rows = self.conn.execute(
            f"SELECT id / %(w)s AS r, count(*), sum(row_digest) FROM policies "
            f"WHERE status = 'active'{bounds} GROUP BY 1", {"w": range_size, "lo": lo, "hi": hi}).fetchall()
        return {int(r): RangeChecksum(count=int(n), digest=int(d)) for r, n, d in rows}

    def active_rows(self, lo: int, hi: int) -> dict[int, PolicyRow]:
        """The active rows with lo ≤ id < hi, with the columns a target projection needs."""
        return self._rows("status = 'active' AND id >= %s AND id < %s", (lo, hi))

    def rows(self, ids: list[int]) -> dict[int, PolicyRow]:
        """The current rows of ``ids`` (any status; ids PostgreSQL does not have are absent)."""
        return self._rows("id = ANY(%s)", (list(ids),)) if ids else {}

    def _rows(self, where: str, params: tuple) -> dict[int, PolicyRow]:
        columns = ", ".join(DOCUMENT_COLUMNS)
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SELECT {columns} FROM policies WHERE {where}", params)
            return {int(r["id"]): PolicyRow.model_validate(r) for r in cur.fetchall()}

    def statuses(self, ids: list[int]) -> dict[int, str]:
        """The status of each id PostgreSQL has (ids it never had, or deleted, are absent)."""
        if not ids:
            return {}
        rows = self.conn.execute("SELECT id, status FROM policies WHERE id = ANY(%s)", (ids,)).fetchall()
        return {int(i): s for i, s in rows}

    def current_lsn(self) -> int:
        """The WAL insert position now, as the integer Debezium reports in ``source.lsn``."""
        return int(scalar(self.conn, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


def expected_content(sink: Sink, row: PolicyRow) -> Mapping[str, Any]:
    """What a reader of ``sink``'s target should see for the active ``row``."""
    return sink.project(SinkRecord(row.id, 0, row.content_hash.strip(), PolicyDocument.from_row(row)))


def classify(policy_id: int, row: PolicyRow | None, stored: StoredRecord | None, *, sink: Sink,
             wiped: bool = False, expected: Mapping[str, Any] | None = None) -> Drift | None:
    """The drift of one record (None: the target holds exactly what PostgreSQL's row projects to).

    ``row`` is PostgreSQL's current row when it is active (None otherwise). One kind per record,
    the most telling first: absence, another version, a part gone, edited content, bookkeeping.
    """
    target_hash = stored.version.content_hash.strip() if stored and stored.version else None
    target_lsn = stored.version.lsn if stored and stored.version else None
    write_version = stored.version.write_version if stored and stored.version else None
    visible = stored is not None and (stored.content is not None or bool(stored.defects))

    def drift(kind: DriftKind, detail: str = "") -> Drift:
        return Drift(kind, policy_id, source_hash=row.content_hash.strip() if row else None, target_hash=target_hash,
                     target_lsn=target_lsn, write_version=write_version, detail=detail)

    if row is None:
        return drift(DriftKind.ORPHANED) if visible else None
    if stored is None or (stored.content is None and not stored.defects):
        return drift(DriftKind.WIPED if wiped else DriftKind.MISSING)
    defects = "; ".join(d.detail for d in stored.defects)
    if stored.content is None:
        return drift(DriftKind.PARTIAL, defects)
    source_hash = row.content_hash.strip()
    expected = expected if expected is not None else expected_content(sink, row)
    same_content = stored.content == expected
    if not same_content and target_hash != source_hash:
        return drift(DriftKind.STALE)
    missing_fields = sorted(set(expected) - set(stored.content))
    some_fields = bool(set(expected) & set(stored.content))  # none at all: replaced wholesale, not partial
    if any(d.kind is DefectKind.PARTIAL for d in stored.defects) or (missing_fields and some_fields):
        return drift(DriftKind.PARTIAL, defects or f"fields missing: {', '.join(missing_fields)}")
    if not same_content:
        return drift(DriftKind.CONTENT, _first_difference(expected, stored.content))
    if target_hash != source_hash:
        return drift(DriftKind.METADATA, f"content hash {target_hash or 'missing'}, PostgreSQL has {source_hash}")
    if stored.version is None or stored.defects:
        return drift(DriftKind.METADATA, defects or "no version stored")
    return None


def _first_difference(expected: Mapping[str, Any], stored: Mapping[str, Any]) -> str:
    for key in sorted(set(expected) | set(stored), key=str):
        if expected.get(key) != stored.get(key):
            shown = repr(stored.get(key))
            return f"{key}: {shown[:80]}{'…' if len(shown) > 80 else ''}"
    return ""


@dataclass
class ScanStats:
    ranges_total: int = 0
    ranges_differing: int = 0
    target_records: int = 0   # records the target's checksums cover
    deep_records: int = 0     # records read deep and compared field by field

    def add(self, other: ScanStats) -> None:
        self.ranges_total += other.ranges_total
        self.ranges_differing += other.ranges_differing
        self.target_records += other.target_records
        self.deep_records += other.deep_records


def read_target(sink: Sink, page_size: int, *, after_id: int = 0,
                before_id: int | None = None) -> Iterator[StoredVersion]:
    """Every record ``sink.read_back`` lists with after_id < id (< before_id), page by page, by id."""
    cursor = after_id
    while True:
        page = sink.read_back(cursor, page_size)
        if not page:
            return
        for version in page:
            if before_id is not None and version.policy_id >= before_id:
                return
            yield version
        cursor = page[-1].policy_id


def read_ids(sink: Sink, page_size: int, lo: int, hi: int) -> Iterator[int]:
    """Ids of the active records ``read_back`` lists with lo ≤ id < hi."""
    return (version.policy_id for version in read_target(sink, page_size, after_id=lo - 1, before_id=hi))


def deep_range_diff(view: ActiveView, sink: Sink, index: int, *, range_size: int, page_size: int,
                    strays: set[int], wiped: bool, same_ids: bool = False) -> RangeDiff:
    """Read one range of the target deep and compare every record with PostgreSQL's projection.

    ``same_ids``: the range's checksums matched (same count, same sum of per-id digests), so the
    target holds PostgreSQL's ids there and listing the target's ids again is skipped; every one of
    them is still read whole and compared."""
    lo, hi = index * range_size, (index + 1) * range_size
    rows = view.active_rows(lo, hi)
    listed = set() if same_ids else set(read_ids(sink, page_size, lo, hi))
    ids = set(rows) | listed | {i for i in strays if lo <= i < hi}
    stored = sink.read_records(sorted(ids))
    diff = RangeDiff(index, records=len(stored))
    for policy_id in sorted(ids):
        found = classify(policy_id, rows.get(policy_id), stored.get(policy_id), sink=sink, wiped=wiped)
        if found is not None:
            diff.drifts.append(found)
    return diff


@dataclass(frozen=True)
class Segment:
    """Ids lo <= id < hi (hi None: no upper end), always whole ranges: read by one worker thread."""

    lo: int
    hi: int | None

    def holds_range(self, index: int, range_size: int) -> bool:
        start = index * range_size
        return start >= self.lo and (self.hi is None or start < self.hi)


def segments(source_checksums: dict[int, RangeChecksum], *, range_size: int, count: int) -> list[Segment]:
    """Cut the id space into ``count`` segments of whole ranges holding about as many active rows.

    The last segment has no upper end, so a target's records beyond PostgreSQL's ids are read too.
    """
    indexes = sorted(source_checksums)
    if count <= 1 or len(indexes) < 2:
        return [Segment(0, None)]
    total = sum(c.count for c in source_checksums.values())
    bounds: list[int] = []
    running = 0
    for index in indexes:
        running += source_checksums[index].count
        if len(bounds) < count - 1 and running >= total * (len(bounds) + 1) / count and index != indexes[-1]:
            bounds.append((index + 1) * range_size)
    edges = [0, *bounds]
    return [Segment(lo, hi) for lo, hi in zip(edges, [*bounds, None], strict=True)]
