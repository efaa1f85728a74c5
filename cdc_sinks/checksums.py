"""Range checksums: what PostgreSQL and a target each reduce one id range to.

A range (ids ``index * range_size`` … ``(index + 1) * range_size - 1``) is reduced to the count
of its active records and the **sum** of a 32-bit digest of each record's ``(id, content_hash)``.
Every sink stores the digest with the record when it writes it (``SinkRecord.row_digest``), so a
target that can aggregate (the search engine, Neo4j, a Redis Lua script) computes a range's
checksum on the server and the reconciler moves one number pair per range instead of every
record. A sum of 32-bit values stays exact in a double up to 2**21 records per range, which is
what the search engine's ``sum`` aggregation and Redis' Lua compute in (``RECONCILE_RANGE_SIZE``
is capped at 1,000,000).

The digest is the first 4 bytes of ``md5("{id}:{content_hash}")`` as an unsigned integer, computed
the same in Python (``row_digest``) and by PostgreSQL (``ROW_DIGEST_SQL``: the generated column
``policies.row_digest`` of migration 0006).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ROW_DIGEST_SQL = "('x' || left(md5(id::text || ':' || content_hash), 8))::bit(32)::bigint"
"""``row_digest`` in PostgreSQL, over a row with ``id`` and ``content_hash`` columns."""

ID_CEILING = 2**63 - 1
"""Above every policy id: the upper bound of an open-ended id range, where a query needs one."""


def row_digest(policy_id: int, content_hash: str) -> int:
    """The record's 32-bit digest (``CHAR`` padding of the hash ignored)."""
    digest = hashlib.md5(f"{policy_id}:{content_hash.strip()}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass
class RangeChecksum:
    """Count and digest sum of the records in one id range."""

    count: int = 0
    digest: int = 0

    def add(self, policy_id: int, content_hash: str) -> None:
        self.add_digest(row_digest(policy_id, content_hash))

    def add_digest(self, digest: int) -> None:
        self.count += 1
        self.digest += digest

    def merge(self, other: RangeChecksum) -> None:
        self.count += other.count
        self.digest += other.digest
