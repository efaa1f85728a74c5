"""Change messages in Debezium's real envelope, built from a captured Debezium 3.6 message
(tests/unit/aegis/data/debezium_capture.json) with id, LSN, op and status swapped in."""

from __future__ import annotations

import json
from pathlib import Path

from cdc_sinks.batching import ConsumedMessage

_CAPTURE = Path(__file__).parents[1] / "aegis" / "data" / "debezium_capture.json"
_TEMPLATE = json.loads(json.loads(_CAPTURE.read_text())["messages"]["insert_full_row"]["value"])


def envelope(policy_id: int, lsn: int, *, op: str = "u", status: str = "active", title: str = "청년 창업 지원",
             content_hash: str | None = None) -> dict:
    doc = json.loads(json.dumps(_TEMPLATE))
    row = doc["after"]
    row.update(id=policy_id, status=status, title=title, content_hash=content_hash or f"{lsn:064x}")
    doc["op"] = op
    doc["source"]["lsn"] = lsn
    doc["source"]["ts_ms"] = 1_700_000_000_000 + lsn
    if op == "d":
        doc["before"], doc["after"] = {"id": policy_id}, None
    return doc


_offsets = iter(range(10**9))


def message(policy_id: int, lsn: int | None = None, *, tombstone: bool = False, value: bytes | None = None,
            key: bytes | None = None, partition: int = 0, **kwargs) -> ConsumedMessage:
    """A consumed message; ``tombstone`` gives a null value, ``value`` raw bytes as they are."""
    if value is None and not tombstone:
        value = json.dumps(envelope(policy_id, lsn or 1, **kwargs)).encode()
    return ConsumedMessage(topic="aegis.public.policies", partition=partition, offset=next(_offsets),
                           key=key if key is not None else json.dumps({"id": policy_id}).encode(), value=value)
