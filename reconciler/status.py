"""Status changes of a policy, each with its outbox event and audit row in the caller's transaction.

The reconciler never writes to a target when it changes a status: the ``UPDATE`` reaches every
target through CDC like any other change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict

from aegis.audit import AuditEntry, set_change_context, write_audit
from aegis.events import DataQualityUpdated, QualityScorePayload, write_event
from aegis.models.policy import PolicyStatus

ACTOR = "reconciler"


class StatusChange(BaseModel):
    """One policy moving from one status to another, and why."""

    model_config = ConfigDict(frozen=True)

    policy_id: int
    from_status: PolicyStatus
    to_status: PolicyStatus
    reason: str
    score: QualityScorePayload
    canonical_policy_id: int | None = None
    expected_content_hash: str | None = None  # only change the row if it still holds this version


def apply_status_change(conn: psycopg.Connection, change: StatusChange, *, run_id: str,
                        at: datetime | None = None) -> bool:
    """Update the row, write ``data.quality_updated`` and an ``audit_logs`` row; False if the row moved on.

    Runs inside the caller's transaction; the row is only changed while it still has
    ``from_status`` (and ``expected_content_hash`` when given), so a concurrent collector update wins.
    """
    set_change_context(conn, actor=ACTOR, reason=change.reason, run_id=run_id)  # for policy_versions
    updated = conn.execute(
        "UPDATE policies SET status = %(to)s, quality_score = %(total)s, "
        "canonical_policy_id = COALESCE(%(canonical)s, canonical_policy_id), updated_at = now() "
        "WHERE id = %(id)s AND status = %(from)s "
        "AND (%(hash)s::text IS NULL OR content_hash = %(hash)s::text) RETURNING id",
        {"to": change.to_status.value, "from": change.from_status.value, "total": change.score.total_score,
         "canonical": change.canonical_policy_id, "id": change.policy_id, "hash": change.expected_content_hash},
    ).fetchone()
    if updated is None:
        return False
    event = DataQualityUpdated(policy_id=str(change.policy_id), quality_score=change.score,
                               status=change.to_status.value,
                               **({"updated_at": at} if at is not None else {}))
    write_event(conn, event)
    changes: dict[str, Any] = {"status": {"from": change.from_status.value, "to": change.to_status.value},
               "quality_score": change.score.model_dump()}
    if change.canonical_policy_id is not None:
        changes["canonical_policy_id"] = change.canonical_policy_id
    # A duplicate decision is an archive with its canonical record (``changes.canonical_policy_id``).
    write_audit(conn, AuditEntry(entity_id=str(change.policy_id), action=f"status_changed:{change.to_status.value}",
                                 actor=ACTOR, reason=change.reason, run_id=run_id, changes=changes,
                                 details={"decision": "duplicate"} if change.canonical_policy_id is not None else None))
    return True
