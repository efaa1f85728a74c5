"""Writing events to the transactional outbox.

``write_event`` validates the payload against the event's JSON Schema *before* anything
reaches the table, then inserts and immediately deletes the row inside the caller's
transaction: Debezium reads the insert from the WAL (the Outbox Event Router ignores the
delete and its tombstone), and the table never grows. Committed with the caller's change, the
event is published exactly when the change is; rolled back, neither exists.

On ``policy-events`` the message is: key = the aggregate id as a JSON string (``"42"``),
value = the payload as a JSON object, headers ``eventType``, ``schemaVersion``,
``aggregateType`` and ``id`` (the outbox row's UUID: the event id, for de-duplication).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import jsonschema
import psycopg
from psycopg.pq import TransactionStatus

from aegis.errors import DataError, ErrorCode, TerminalError
from aegis.events.models import OutboxEvent


@lru_cache(maxsize=None)
def _validator(schema_file: str) -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("aegis.events").joinpath("schemas", schema_file).read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate_payload(event_type: type[OutboxEvent], payload: dict) -> None:
    """Raise ``DataError`` (DP_2001) listing every way ``payload`` breaks the event's schema."""
    errors = sorted(_validator(event_type.schema_file).iter_errors(payload), key=lambda e: list(e.path))
    if errors:
        detail = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors)
        raise DataError(f"{event_type.event_type} v{event_type.schema_version} payload is invalid: {detail}",
                        code=ErrorCode.VALIDATION_FAILED,
                        hint="fix the producer; nothing was written to the outbox")


def write_event(conn: psycopg.Connection, event: OutboxEvent) -> str:
    """Validate ``event`` and write it to the outbox in the caller's current transaction.

    Returns the event id. Raises ``DataError`` (nothing written) when the payload breaks the
    schema, and ``TerminalError`` when ``conn`` is in autocommit mode outside a transaction
    block (the event would not be atomic with the change it describes).
    """
    if conn.autocommit and conn.info.transaction_status is TransactionStatus.IDLE:
        raise TerminalError("write_event needs an open transaction: the connection is in autocommit mode",
                            code=ErrorCode.BATCH_PROCESSING_ERROR,
                            hint="wrap the change and write_event in `with conn.transaction():`")
    payload = event.payload()
    validate_payload(type(event), payload)
    row = conn.execute(
        "INSERT INTO outbox (aggregatetype, aggregateid, type, schema_version, payload) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        ("policy", event.aggregate_id(), event.event_type, event.schema_version,
         json.dumps(payload, ensure_ascii=False)),
    ).fetchone()
    conn.execute("DELETE FROM outbox WHERE id = %s", (row[0],))
    return str(row[0])
