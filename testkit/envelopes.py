"""Change messages: in Debezium's real envelope, and poison that no sink can ever apply.

``envelope``/``message`` build on a captured Debezium 3.6 message
(tests/unit/aegis/data/debezium_capture.json) with id, LSN, op and status swapped in.
``poison_messages`` (three, for one id: the conformance suite) and ``poison_record`` (the
``n``-th of six kinds, with ids far above any real policy: the fault suite) must each be
dead-lettered.
"""

from __future__ import annotations

import json
from pathlib import Path

from cdc_sinks.batching import ConsumedMessage

_CAPTURE = Path(__file__).resolve().parents[1] / "tests" / "unit" / "aegis" / "data" / "debezium_capture.json"
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


def poison_messages(policy_id: int) -> list[tuple[bytes | None, bytes | None]]:
    """Messages no sink can ever apply: not JSON, an unknown envelope, a key without an id."""
    key = json.dumps({"id": policy_id}).encode()
    return [(key, b"\x00\x01 not json"), (key, json.dumps({"op": "x", "after": None}).encode()),
            (b'{"no_id": true}', b"{}")]


POISON_ID_BASE = 2_000_000_000


def poison_record(n: int) -> tuple[bytes, bytes]:
    """The ``n``-th poison record (key, value)."""
    policy_id = POISON_ID_BASE + n
    key = json.dumps({"id": policy_id}).encode()
    source = {"lsn": 1, "ts_ms": 0}
    kind = n % 6
    if kind == 0:
        return key, b"\x00\x01 not json " + str(n).encode()
    if kind == 1:
        return key, f'{{"op": "c", "after": {{"id": {policy_id}'.encode()
    if kind == 2:
        return key, json.dumps({"op": "x", "after": None, "n": n}).encode()
    if kind == 3:
        return json.dumps({"no_id": n}).encode(), b"{}"
    if kind == 4:
        return key, json.dumps({"op": "u", "before": None, "after": {"id": f"x{n}", "status": "active"},
                                "source": source}).encode()
    return key, json.dumps({"op": "c", "before": None, "after": {"id": policy_id, "status": "active"},
                            "source": source}).encode()
