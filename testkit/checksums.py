"""The range checksums a set of records must have: the expected side of a check (``cdc_sinks.checksums``)."""

from __future__ import annotations

from collections.abc import Iterable

from cdc_sinks.checksums import RangeChecksum


def checksums_of(records: Iterable[tuple[int, str]], range_size: int) -> dict[int, RangeChecksum]:
    """The checksum of every non-empty range of ``(id, content_hash)`` pairs."""
    checksums: dict[int, RangeChecksum] = {}
    for policy_id, content_hash in records:
        checksums.setdefault(policy_id // range_size, RangeChecksum()).add(policy_id, content_hash)
    return checksums
