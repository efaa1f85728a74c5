"""Debezium change events, decoded once into a typed model every sink consumes.

A message on a policy table topic is one of:

* a change — Debezium's envelope ``{before, after, source{lsn, txId, ...}, op, ts_ms}``
  (with or without the JSON converter's ``{schema, payload}`` wrapper);
* a tombstone — the key with a null value, sent after every delete so compaction can drop the key.

Anything else raises ``DataError`` (DP_3006): the sink dead-letters that one message and goes on.
Policy ids come from an identity column and are never reused, so a delete is final.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from aegis.errors import DataError, ErrorCode
from aegis.models.policy import PolicyRow


class Op(str, Enum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot


class SourceInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    lsn: int | None = None
    txId: int | None = None
    ts_ms: int | None = None
    table: str | None = None
    snapshot: str | None = None


class ChangeEvent(BaseModel):
    """One decoded message from a policy change topic."""

    model_config = ConfigDict(frozen=True)

    policy_id: int
    tombstone: bool = False
    op: Op | None = None
    before: PolicyRow | None = None
    after: PolicyRow | None = None
    lsn: int | None = None
    tx_id: int | None = None
    ts_ms: int | None = None
    source_ts_ms: int | None = None

    @property
    def is_removal(self) -> bool:
        """True when the policy must leave every target: a delete, a tombstone, or a non-active row."""
        if self.tombstone or self.op is Op.DELETE or self.after is None:
            return True
        return not self.after.is_active


def _unwrap(document: Any) -> Any:
    if isinstance(document, dict) and "payload" in document and "schema" in document:
        return document["payload"]
    return document


def _loads(raw: bytes | str | None, what: str) -> Any:
    if raw is None:
        return None
    try:
        return _unwrap(json.loads(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"change event {what} is not JSON: {exc}", code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None


def decode_change(key: bytes | str | None, value: bytes | str | None) -> ChangeEvent:
    """Decode a Debezium key/value pair into a ``ChangeEvent``; unknown shapes raise ``DataError``."""
    key_doc = _loads(key, "key")
    if isinstance(key_doc, dict) and isinstance(key_doc.get("id"), int):
        policy_id = key_doc["id"]
    elif isinstance(key_doc, int):
        policy_id = key_doc
    else:
        raise DataError(f"change event key has no integer id: {str(key)[:200]!r}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    envelope = _loads(value, "value")
    if envelope is None:
        return ChangeEvent(policy_id=policy_id, tombstone=True)
    if not isinstance(envelope, dict) or envelope.get("op") not in {o.value for o in Op}:
        raise DataError(f"change event for policy {policy_id} has no known op: {str(value)[:200]!r}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    op = Op(envelope["op"])
    try:
        source = SourceInfo.model_validate(envelope.get("source") or {})
        after = PolicyRow.model_validate(envelope["after"]) if envelope.get("after") else None
    except ValidationError as exc:
        raise DataError(f"change event for policy {policy_id} does not match the policies row: "
                        f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None
    if op is not Op.DELETE and after is None:
        raise DataError(f"{op.name.lower()} event for policy {policy_id} has no `after` row",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    before = None
    if envelope.get("before"):
        try:  # with REPLICA IDENTITY DEFAULT a delete's `before` holds only the key: keep it optional
            before = PolicyRow.model_validate(envelope["before"])
        except ValidationError:
            before = None
    return ChangeEvent(policy_id=policy_id, op=op, before=before, after=after, lsn=source.lsn,
                       tx_id=source.txId, ts_ms=envelope.get("ts_ms"), source_ts_ms=source.ts_ms)
