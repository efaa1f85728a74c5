"""Debezium change events, decoded once into a typed model every sink consumes.

A message on a policy table topic is one of:

* a change — Debezium's envelope ``{before, after, source{lsn, txId, ...}, op, ts_ms}``
  (with or without the JSON converter's ``{schema, payload}`` wrapper); the shipped connector
  drops ``before`` (its ``dropBefore`` transform), an envelope with it decodes the same;
* a tombstone — the key with a null value, sent after every delete so compaction can drop the key.

Anything else raises ``DataError`` (DP_3006): the sink dead-letters that one message and goes on.
No input makes ``decode_change`` raise anything but ``DataError``.
Policy ids come from an identity column and are never reused, so a delete is final.

What the connector (``connectors/policies-source.json``) really sends, checked against
Debezium 3.6 with the JSON converter and ``schemas.enable=false``:

* key ``{"id": 5}``;
* DATE as days since the epoch (int), TIMESTAMPTZ as an ISO-8601 string in UTC, TEXT[] as a
  list, JSONB as JSON *text*, DOUBLE PRECISION as a number;
* ``source.lsn`` (int) is the LSN of the change itself, so it grows per key; every snapshot
  (``r``) event of one snapshot carries the same LSN, lower than any later change's;
* with ``REPLICA IDENTITY DEFAULT`` a delete's ``before`` carries only the key: Debezium fills
  the NOT NULL columns with zero values (``""``, ``false``, epoch 0). That image is not a row,
  so ``ChangeEvent.before`` is None for it;
* an ``after`` column holding ``__debezium_unavailable_value`` (an unchanged TOASTed value the
  connector could not re-read: the row was gone) raises ``DataError``; it is never content.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import cached_property
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aegis.errors import DataError, ErrorCode
from aegis.models.policy import PolicyRow, PolicyStatus

ImageModel = TypeVar("ImageModel", bound=BaseModel)


class Op(str, Enum):
    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"  # snapshot


OP_CODES = frozenset(o.value for o in Op)


class ChangeEvent(BaseModel):
    """One decoded message from a policy change topic.

    The new row travels as sent (``after_image``), with the three columns every reader needs checked
    and typed: its id (equal to the key's), ``status`` and ``content_hash``. ``after`` is the full
    ``PolicyRow``, validated when first read; a sink validates only what it writes
    (``PolicyDocument.from_image``), so no column is validated twice.
    """

    model_config = ConfigDict(frozen=True)

    policy_id: int
    tombstone: bool = False
    op: Op | None = None
    status: PolicyStatus | None = None
    content_hash: str | None = None
    lsn: int | None = None
    tx_id: int | None = None
    ts_ms: int | None = None
    source_ts_ms: int | None = None
    after_image: Any = Field(default=None, repr=False)
    """The envelope's ``after`` as sent: an object with the key's id, a status and a content hash
    (checked at decoding), or None for a delete or a tombstone. Not validated as a field: copying
    every column is what the lazy ``after`` saves."""
    before_image: Any = Field(default=None, repr=False)
    """The envelope's ``before`` as sent; ``before`` reads it only when asked (no sink does)."""

    @cached_property
    def after(self) -> PolicyRow | None:
        """The full new row, or None (a delete or a tombstone). ``DataError`` if a column is not what
        the policies table holds."""
        if self.after_image is None:
            return None
        return validated_image(PolicyRow.model_validate, self.after_image,
                               f"change event for policy {self.policy_id} does not match the policies row")

    @cached_property
    def before(self) -> PolicyRow | None:
        """The full old row (REPLICA IDENTITY FULL), or None: absent, key-only or not a row."""
        return _before_image(self.before_image)

    @property
    def is_removal(self) -> bool:
        """True when the policy must leave every target: a delete, a tombstone, or a non-active row."""
        return self.tombstone or self.op is Op.DELETE or self.status is not PolicyStatus.ACTIVE


def validated_image(validate: Callable[[Any], ImageModel], image: Any, problem: str) -> ImageModel:
    """``validate(image)`` for a change event's row image; any failure is a ``DataError``
    (``CHANGE_EVENT_UNDECODABLE``) saying ``problem`` and the first column at fault."""
    try:
        return validate(image)
    except ValidationError as exc:
        raise DataError(f"{problem}: {first_error(exc)}", code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None
    except (OverflowError, OSError, ValueError, TypeError) as exc:  # a validator's own error, not wrapped
        raise DataError(f"{problem}: a value out of range: {exc}", code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None


def first_error(exc: ValidationError) -> str:
    """A validation error's first complaint, as ``column: message``."""
    first = exc.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


def _unwrap(document: Any) -> Any:
    if isinstance(document, dict) and "payload" in document and "schema" in document:
        return document["payload"]
    return document


def _loads(raw: bytes | str | None, what: str) -> Any:
    if raw is None:
        return None
    try:
        return _unwrap(orjson.loads(raw))
    except (ValueError, TypeError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise DataError(f"change event {what} is not JSON: {exc}", code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None


def decode_change(key: bytes | str | None, value: bytes | str | None) -> ChangeEvent:
    """Decode a Debezium key/value pair into a ``ChangeEvent``; unknown shapes raise ``DataError``."""
    return change_from_documents(_loads(key, "key"), _loads(value, "value"), raw_key=key, raw_value=value)


def change_from_documents(key_doc: Any, envelope: Any, *, raw_key: Any = None, raw_value: Any = None) -> ChangeEvent:
    """The ``ChangeEvent`` of an already parsed key and envelope (JSON or Avro; None value = tombstone).

    ``raw_key``/``raw_value`` only appear in error messages. Unknown shapes raise ``DataError``.
    """
    key, value = raw_key if raw_key is not None else key_doc, raw_value if raw_value is not None else envelope
    if isinstance(key_doc, dict) and _is_int(key_doc.get("id")):
        policy_id = key_doc["id"]
    elif _is_int(key_doc):
        policy_id = key_doc
    else:
        raise DataError(f"change event key has no integer id: {str(key)[:200]!r}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    if envelope is None:
        return ChangeEvent(policy_id=policy_id, tombstone=True)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("op"), str) \
            or envelope["op"] not in OP_CODES:
        raise DataError(f"change event for policy {policy_id} has no known op: {str(value)[:200]!r}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    op = Op(envelope["op"])
    if _may_hold_placeholder(raw_value) and isinstance(envelope.get("after"), dict) \
            and (missing := unavailable_columns(envelope["after"])):
        raise DataError(f"{op.name.lower()} event for policy {policy_id} lacks the value of {', '.join(missing)}"
                        " (unchanged TOASTed columns Debezium could not re-read: the row changed or was deleted"
                        " before it looked)", code=ErrorCode.CHANGE_EVENT_UNDECODABLE,
                        hint="the row's next change event, or the reconciler's next pass, brings it to the targets")
    source = envelope.get("source") or {}
    if not isinstance(source, dict):
        raise DataError(f"change event for policy {policy_id} does not match the envelope: `source` is not "
                        "an object", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    after = _row_image(envelope.get("after"), op, policy_id)
    try:
        return ChangeEvent(policy_id=policy_id, op=op, after_image=after, before_image=envelope.get("before"),
                           status=after["status"] if after else None,
                           content_hash=after["content_hash"] if after else None,
                           lsn=source.get("lsn"), tx_id=source.get("txId"), ts_ms=envelope.get("ts_ms"),
                           source_ts_ms=source.get("ts_ms"))  # typed by ChangeEvent's own validation
    except ValidationError as exc:
        raise DataError(f"change event for policy {policy_id} does not match the policies row: {first_error(exc)}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE) from None


ROW_KEY_COLUMNS = ("id", "status", "content_hash")
"""The columns of a row image checked at decoding; the rest are validated by whoever reads them."""


def _row_image(after: Any, op: Op, policy_id: int) -> dict[str, Any] | None:
    """The envelope's ``after``, checked: present unless a delete, an object, with the key's id and a
    status and content hash (their types are ``ChangeEvent``'s to check)."""
    if op is Op.DELETE:
        if after is not None:
            raise DataError(f"delete event for policy {policy_id} carries an `after` row",
                            code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
        return None
    if after is None:
        raise DataError(f"{op.name.lower()} event for policy {policy_id} has no `after` row",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    if not isinstance(after, dict):
        raise DataError(f"change event for policy {policy_id} does not match the policies row: `after` is not "
                        "an object", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    if missing := [column for column in ROW_KEY_COLUMNS if after.get(column) is None]:
        raise DataError(f"change event for policy {policy_id} does not match the policies row: {missing[0]}: "
                        "Field required", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    if not _is_int(after["id"]):
        raise DataError(f"change event for policy {policy_id} does not match the policies row: id: not an "
                        "integer", code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    if after["id"] != policy_id:
        raise DataError(f"change event key id {policy_id} differs from its row id {after['id']}",
                        code=ErrorCode.CHANGE_EVENT_UNDECODABLE)
    return after


UNAVAILABLE = "__debezium_unavailable_value"  # Debezium's unavailable.value.placeholder (its default)
_UNAVAILABLE_JSON = f'{{"{UNAVAILABLE}":"{UNAVAILABLE}"}}'  # the same for a JSONB column, as JSON text
_UNAVAILABLE_BYTES = UNAVAILABLE.encode()


def _may_hold_placeholder(raw_value: Any) -> bool:
    """False only when the encoded message (JSON or Avro: both carry strings as UTF-8) cannot hold
    the placeholder: one substring search instead of a look at every column of every event."""
    if isinstance(raw_value, bytes | bytearray):
        return _UNAVAILABLE_BYTES in raw_value
    if isinstance(raw_value, str):
        return UNAVAILABLE in raw_value
    return True


def unavailable_columns(row: dict[str, Any]) -> list[str]:
    """The columns of ``row`` that carry Debezium's placeholder instead of a value.

    Under REPLICA IDENTITY DEFAULT an UPDATE does not log an unchanged TOASTed column; the connector's
    re-select post-processor fills it from the table, unless the row was gone by then (or the column
    is an array, which it does not re-select). Writing the placeholder to a target would be silent loss.
    """
    return [name for name, value in row.items()
            if value in (UNAVAILABLE, _UNAVAILABLE_JSON)
            or (isinstance(value, list) and UNAVAILABLE in value)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _before_image(document: Any) -> PolicyRow | None:
    """The full old row, or None: absent, key-only (REPLICA IDENTITY DEFAULT) or not a row at all.

    A key-only image has the zero value ``""`` for ``content_hash``, which a stored row (CHAR(64))
    never has.
    """
    if not isinstance(document, dict) or not document.get("content_hash"):
        return None
    try:
        return PolicyRow.model_validate(document)
    except (ValueError, TypeError, OverflowError, OSError):  # ValidationError is a ValueError
        return None
