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
from collections.abc import Sequence
from functools import cache
from importlib import resources

import jsonschema
import psycopg
from psycopg.pq import TransactionStatus

from aegis.errors import DataError, ErrorCode, TerminalError
from aegis.events.models import OutboxEvent


@cache
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


_INSERT_MANY = (
    "INSERT INTO outbox (aggregatetype, aggregateid, type, schema_version, payload) "
    "SELECT 'policy', a, t, v, p::jsonb FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
    "WITH ORDINALITY AS e(a, t, v, p, n) ORDER BY n RETURNING id"
)


def write_events(conn: psycopg.Connection, events: Sequence[OutboxEvent]) -> list[str]:
    """Validate every event, then write them all to the outbox in the caller's current transaction.

    Returns the event ids, in order. Every payload is checked against its JSON Schema first, so an
    invalid one writes nothing (``DataError``). The rows are inserted and deleted again in the same
    transaction (Debezium reads the inserts from the WAL): two statements, however many events.
    ``TerminalError`` when ``conn`` is in autocommit mode outside a transaction block (the events
    would not be atomic with the change they describe).
    """
    if not events:
        return []
    if conn.autocommit and conn.info.transaction_status is TransactionStatus.IDLE:
        raise TerminalError("write_event needs an open transaction: the connection is in autocommit mode",
                            code=ErrorCode.BATCH_PROCESSING_ERROR,
                            hint="wrap the change and write_event in `with conn.transaction():`")
    payloads = [event.payload() for event in events]
    for event, payload in zip(events, payloads, strict=True):
        validate_payload(type(event), payload)
    ids = [row[0] for row in conn.execute(_INSERT_MANY, (
        [e.aggregate_id() for e in events], [e.event_type for e in events], [e.schema_version for e in events],
        [json.dumps(p, ensure_ascii=False) for p in payloads])).fetchall()]
    conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", (ids,))
    return [str(i) for i in ids]


def write_event(conn: psycopg.Connection, event: OutboxEvent) -> str:
    """``write_events`` for one event; returns its id."""
    return write_events(conn, [event])[0]
