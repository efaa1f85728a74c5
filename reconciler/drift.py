"""Drift detection: PostgreSQL's active view against one target, range checksums first.

The id space is cut into ranges of ``RECONCILE_RANGE_SIZE`` ids. For each range both sides
reduce their rows to a checksum (``cdc_sinks.checksums``: the row count and the sum of a 32-bit
digest of ``(id, content_hash)`` per row). PostgreSQL computes every range's checksum in one
aggregate query. A target whose sink is a ``ChecksumSource`` computes its checksums on its own
server (``differing_ranges_by_checksum``): only numbers cross the wire, and only the ranges that
differ are then read back, row by row. Any other target is read once through its sink's
``read_back`` in pages and its checksums computed while the pages stream by
(``differing_ranges``); the rows of the current range are kept, so a differing range is compared
at once. Either way missing, orphaned and stale records are named per differing range, and
memory stays bounded by one range per target.

Why the content hash and not the LSN is compared against PostgreSQL: PostgreSQL does not store
the LSN of a row's last change, and cannot be made to without a trigger — ``pg_current_wal_lsn()``
read inside the writing transaction is not that transaction's commit (or change) LSN, and a
second ``UPDATE`` to record it would itself be a change streamed to every target. The content
hash is the version PostgreSQL does hold; every target stores it with each record (sinks copy
``policies.content_hash``), so "stale" means "holds another content hash than PostgreSQL".
LSNs are used where they are meaningful: to write repairs that win over what a target holds
without hiding later CDC changes (``reconciler.repair``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

import psycopg
from psycopg.rows import dict_row

from aegis.models.policy import PolicyRow
from cdc_sinks.base import Sink, StoredVersion
from cdc_sinks.checksums import ChecksumSource, RangeChecksum, checksums_of, row_digest

__all__ = ["ActiveView", "Drift", "DriftKind", "RangeChecksum", "RangeDiff", "ScanStats", "Segment",
           "differing_ranges", "differing_ranges_by_checksum", "range_diff", "range_is_consistent", "read_target",
           "row_digest", "segments"]


class DriftKind(str, Enum):
    MISSING = "missing"    # active in PostgreSQL, absent from the target
    ORPHANED = "orphaned"  # in the target, not active in PostgreSQL
    STALE = "stale"        # in both, with another content hash


@dataclass(frozen=True, slots=True)
class Drift:
    """One record out of step in one target."""

    kind: DriftKind
    policy_id: int
    source_hash: str | None = None
    target_hash: str | None = None
    target_lsn: int | None = None


@dataclass
class RangeDiff:
    """The row-level comparison of one differing range."""

    range_index: int
    drifts: list[Drift] = field(default_factory=list)


class ActiveView:
    """PostgreSQL's active view (``status = 'active'``) as the drift check reads it."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def range_checksums(self, range_size: int, lo: int | None = None, hi: int | None = None) -> dict[int, RangeChecksum]:
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

    def hashes(self, lo: int, hi: int) -> dict[int, str]:
        """``id → content_hash`` of the active rows with lo ≤ id < hi."""
        rows = self.conn.execute("SELECT id, content_hash FROM policies WHERE status = 'active' "
                                 "AND id >= %s AND id < %s", (lo, hi)).fetchall()
        return {int(i): h.strip() for i, h in rows}

    def statuses(self, ids: list[int]) -> dict[int, str]:
        """The status of each id PostgreSQL has (ids it never had, or deleted, are absent)."""
        if not ids:
            return {}
        rows = self.conn.execute("SELECT id, status FROM policies WHERE id = ANY(%s)", (ids,)).fetchall()
        return {int(i): s for i, s in rows}

    def rows(self, ids: list[int]) -> list[PolicyRow]:
        """The current rows of ``ids`` (any status), by id."""
        if not ids:
            return []
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute("SELECT * FROM policies WHERE id = ANY(%s) ORDER BY id", (ids,))
            return [PolicyRow.model_validate(r) for r in cur.fetchall()]

    def active_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM policies WHERE status = 'active'").fetchone()[0])

    def current_lsn(self) -> int:
        """The WAL insert position now, as the integer Debezium reports in ``source.lsn``."""
        return int(self.conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0])


def read_target(sink: Sink, page_size: int, *, after_id: int = 0, before_id: int | None = None) -> Iterator[StoredVersion]:
    """Every record ``sink.read_back`` returns with after_id < id (< before_id), page by page, by id."""
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


def diff_rows(range_index: int, source: dict[int, str], target: dict[int, StoredVersion], *,
              stored_digests: bool = False) -> RangeDiff:
    """Name every missing, orphaned and stale record of one range.

    ``stored_digests``: the target keeps each record's digest for its own checksums, so a record
    whose stored digest is absent or wrong (written before digests existed, or damaged) is stale
    too — otherwise its range would differ on every pass without a record to repair.
    """
    diff = RangeDiff(range_index)
    for policy_id in sorted(source.keys() | target.keys()):
        src, tgt = source.get(policy_id), target.get(policy_id)
        if tgt is None:
            diff.drifts.append(Drift(DriftKind.MISSING, policy_id, source_hash=src))
        elif src is None:
            diff.drifts.append(Drift(DriftKind.ORPHANED, policy_id, target_hash=tgt.content_hash, target_lsn=tgt.lsn))
        elif src != tgt.content_hash.strip() or (stored_digests and tgt.row_digest != row_digest(policy_id, src)):
            diff.drifts.append(Drift(DriftKind.STALE, policy_id, source_hash=src, target_hash=tgt.content_hash,
                                     target_lsn=tgt.lsn))
    return diff


@dataclass
class ScanStats:
    ranges_total: int = 0
    ranges_differing: int = 0
    target_records: int = 0

    def add(self, other: "ScanStats") -> None:
        self.ranges_total += other.ranges_total
        self.ranges_differing += other.ranges_differing
        self.target_records += other.target_records


PROGRESS_EVERY = 50_000
"""Target records between two progress callbacks."""


def differing_ranges(view: ActiveView, sink: Sink, source_checksums: dict[int, RangeChecksum], *,
                     range_size: int, page_size: int, stats: ScanStats,
                     segment: "Segment | None" = None,
                     on_progress: Callable[[int], None] | None = None) -> Iterator[RangeDiff]:
    """Stream the target once (or one segment of it); yield the row-level diff of each differing range.

    For a target that keeps digests for its own checksums this is the full scan: it also checks
    each stored digest against the record's hash, which the target's own checksums take on trust.

    ``source_checksums`` are PostgreSQL's (``ActiveView.range_checksums``). Ranges the target
    has no record in at all are compared after the stream ends. ``on_progress`` gets the number
    of records read since its last call, every ``PROGRESS_EVERY`` records.
    """
    segment = segment or Segment(0, None)
    seen: set[int] = set()
    stored_digests = isinstance(sink, ChecksumSource)
    digests_wrong: set[int] = set()  # ranges holding a record whose stored digest is not its hash's

    def finish(index: int, checksum: RangeChecksum, rows: dict[int, StoredVersion]) -> RangeDiff | None:
        seen.add(index)
        expected = source_checksums.get(index, RangeChecksum())
        if checksum == expected and index not in digests_wrong:
            return None
        stats.ranges_differing += 1
        lo = index * range_size
        diff = diff_rows(index, view.hashes(lo, lo + range_size), rows, stored_digests=stored_digests)
        return diff if diff.drifts else None

    current, checksum, rows = None, RangeChecksum(), {}
    for version in read_target(sink, page_size, after_id=segment.lo - 1, before_id=segment.hi):
        stats.target_records += 1
        if on_progress is not None and stats.target_records % PROGRESS_EVERY == 0:
            on_progress(PROGRESS_EVERY)
        index = version.policy_id // range_size
        if index != current:
            if current is not None and (diff := finish(current, checksum, rows)) is not None:
                yield diff
            current, checksum, rows = index, RangeChecksum(), {}
        digest = row_digest(version.policy_id, version.content_hash)
        checksum.add_digest(digest)
        if stored_digests and version.row_digest != digest:
            digests_wrong.add(index)
        rows[version.policy_id] = version
    if current is not None and (diff := finish(current, checksum, rows)) is not None:
        yield diff
    for index in sorted(i for i in source_checksums.keys() - seen if segment.holds_range(i, range_size)):
        if (diff := finish(index, RangeChecksum(), {})) is not None:
            yield diff
    stats.ranges_total += len(seen)
    if on_progress is not None:
        on_progress(stats.target_records % PROGRESS_EVERY)


def differing_ranges_by_checksum(view: ActiveView, sink: ChecksumSource, source_checksums: dict[int, RangeChecksum],
                                 *, range_size: int, page_size: int, stats: ScanStats,
                                 segment: "Segment | None" = None,
                                 on_progress: Callable[[int], None] | None = None) -> Iterator[RangeDiff]:
    """Compare the target's own range checksums with PostgreSQL's; read back only the ranges that differ.

    Same contract as ``differing_ranges``; ``stats.target_records`` counts the records the
    target's checksums cover (none of them crossed the wire unless their range differed), and
    ``on_progress`` is not called: there is no record stream to report on.
    """
    segment = segment or Segment(0, None)
    target_checksums = sink.range_checksums(range_size, segment.lo, segment.hi)
    stats.target_records += sum(c.count for c in target_checksums.values())
    indexes = sorted(i for i in source_checksums.keys() | target_checksums.keys() if segment.holds_range(i, range_size))
    stats.ranges_total += len(indexes)
    for index in indexes:
        if source_checksums.get(index, RangeChecksum()) == target_checksums.get(index, RangeChecksum()):
            continue
        stats.ranges_differing += 1
        diff = range_diff(view, sink, index, range_size=range_size, page_size=page_size)
        if diff.drifts:
            yield diff


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
    bounds, running = [], 0
    for index in indexes:
        running += source_checksums[index].count
        if len(bounds) < count - 1 and running >= total * (len(bounds) + 1) / count and index != indexes[-1]:
            bounds.append((index + 1) * range_size)
    edges = [0, *bounds]
    return [Segment(lo, hi) for lo, hi in zip(edges, [*bounds, None])]


def range_is_consistent(view: ActiveView, sink: Sink, index: int, *, range_size: int, page_size: int) -> bool:
    """Re-check one range: PostgreSQL's checksum against the target's, read back for that range only."""
    lo, hi = index * range_size, (index + 1) * range_size
    source = view.range_checksums(range_size, lo, hi).get(index, RangeChecksum())
    if isinstance(sink, ChecksumSource):
        target = sink.range_checksums(range_size, lo, hi)
    else:
        target = checksums_of(((v.policy_id, v.content_hash)
                               for v in read_target(sink, page_size, after_id=lo - 1, before_id=hi)), range_size)
    return source == target.get(index, RangeChecksum())


def range_diff(view: ActiveView, sink: Sink, index: int, *, range_size: int, page_size: int) -> RangeDiff:
    """The row-level diff of one range, read afresh from both sides."""
    lo, hi = index * range_size, (index + 1) * range_size
    target = {v.policy_id: v for v in read_target(sink, page_size, after_id=lo - 1, before_id=hi)}
    return diff_rows(index, view.hashes(lo, hi), target, stored_digests=isinstance(sink, ChecksumSource))
