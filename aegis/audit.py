"""The audit trail: one function writes every ``audit_logs`` row (docs/privacy.md, "Audit").

Every state change the pipeline makes on its own — promotion, rejection, archive, duplicate
decision, repair, re-embed, dead-letter replay, privacy backfill, retention — is one row: which
entity (a policy id, or a target for whole-target actions), what (``action``), who or what did it
(``actor``), when (``timestamp``, the row's default ``now()``), why (``metadata.reason``) and in
which run (``metadata.run_id``). Rows are queryable by policy id and by time
(``idx_audit_logs_entity_time``; ``aegis audit``).

``set_change_context`` names the writer of the transaction's ``policies`` changes for the
``policy_versions`` trigger (migration 0007), so the version history says who and why as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any

import orjson
import psycopg
from pydantic import BaseModel, ConfigDict

from aegis.privacy import mask_json, mask_text


class AuditAction(str, Enum):
    PROMOTED = "status_changed:active"
    REJECTED = "status_changed:rejected"
    ARCHIVED = "status_changed:archived"
    # a duplicate decision is ARCHIVED with changes.canonical_policy_id and details.decision = "duplicate"
    REPAIRED = "repaired"
    REEMBEDDED = "reembedded"
    DLQ_REPLAYED = "dlq_replayed"
    PRIVACY_BACKFILL = "privacy_masked"
    RETENTION = "retention_purged"


class AuditEntry(BaseModel):
    """One audit row, as written and as read back."""

    model_config = ConfigDict(frozen=True)

    entity_type: str = "policy"
    entity_id: str
    action: str
    actor: str
    reason: str
    run_id: str | None = None
    changes: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    timestamp: datetime | None = None


_INSERT = ("INSERT INTO audit_logs (entity_type, entity_id, action, actor, changes, metadata) "
           "VALUES (%s, %s, %s, %s, %s::jsonb, %s::jsonb)")


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def _row(entry: AuditEntry) -> tuple:
    metadata = {"reason": mask_text(entry.reason), "run_id": entry.run_id, **mask_json(entry.details or {})}
    return (entry.entity_type, entry.entity_id, entry.action, entry.actor,
            _json(mask_json(entry.changes) if entry.changes is not None else None), _json(metadata))


def write_audit(conn: psycopg.Connection, entries: AuditEntry | Iterable[AuditEntry]) -> int:
    """Write one or many audit rows in the caller's transaction; returns how many.

    Reasons and details pass through the masking policy: an audit row is read by people and
    exported, so it holds no personal data either.
    """
    rows = [_row(entries)] if isinstance(entries, AuditEntry) else [_row(e) for e in entries]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(_INSERT, rows)
    return len(rows)


def set_change_context(conn: psycopg.Connection, *, actor: str, reason: str | None = None,
                       run_id: str | None = None) -> None:
    """Name who changes ``policies`` in this transaction, and why (read by the version trigger)."""
    conn.execute("SELECT set_config('aegis.actor', %s, true), set_config('aegis.reason', %s, true), "
                 "set_config('aegis.run_id', %s, true)", (actor, reason or "", run_id or ""))


def read_audit(conn: psycopg.Connection, *, entity_id: str | None = None, since: datetime | None = None,
               until: datetime | None = None, action: str | None = None, limit: int = 200) -> list[AuditEntry]:
    """Audit rows, newest first, filtered by entity (policy id), time window and action prefix."""
    rows = conn.execute(
        "SELECT entity_type, entity_id, action, actor, changes, metadata, \"timestamp\" FROM audit_logs "
        "WHERE (%(id)s::text IS NULL OR entity_id = %(id)s) "
        "AND (%(since)s::timestamptz IS NULL OR \"timestamp\" >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR \"timestamp\" < %(until)s) "
        "AND (%(action)s::text IS NULL OR action LIKE %(action)s || '%%') "
        "ORDER BY \"timestamp\" DESC LIMIT %(limit)s",
        {"id": entity_id, "since": since, "until": until, "action": action, "limit": limit}).fetchall()
    entries = []
    for entity_type, entity, act, actor, changes, metadata, at in rows:
        metadata = dict(metadata or {})
        reason = str(metadata.pop("reason", "") or "")
        run_id = metadata.pop("run_id", None)
        entries.append(AuditEntry(entity_type=entity_type, entity_id=entity, action=act, actor=actor or "",
                                  reason=reason, run_id=run_id, changes=changes, details=metadata or None,
                                  timestamp=at))
    return entries
