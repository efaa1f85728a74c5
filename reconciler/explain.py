"""Why a policy has its score and status: what ``aegis quality explain ID`` shows.

Everything comes from what the reconciler stored — the latest ``quality_metrics`` row (scores,
method, deductions), the ``audit_logs`` status changes, and a ``policy_duplicates`` row — so the
explanation is of the decision actually taken, not of a fresh recomputation.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from aegis.db.roles import readable_columns
from aegis.errors import ErrorCode, TerminalError
from aegis.models.policy import PolicyRow
from reconciler.duplicates import StoredDuplicate, duplicate_of
from reconciler.quality import Deduction, QualityScore, ValidationResult


class StatusChangeRecord(BaseModel):
    at: datetime
    action: str
    reason: str | None = None
    run_id: str | None = None


class PolicyExplanation(BaseModel):
    policy_id: int
    title: str
    source: str
    status: str
    score: QualityScore | None = None
    calculation_method: str | None = None
    history: list[StatusChangeRecord] = Field(default_factory=list)
    duplicate: StoredDuplicate | None = None


def _stored_score(row: dict) -> QualityScore:
    details = row["details"] or {}
    return QualityScore(
        total_score=row["total_score"], completeness=row["completeness"], accuracy=row["accuracy"],
        consistency=row["consistency"], timeliness=row["timeliness"],
        validation=ValidationResult.model_validate(details.get("validation") or {"is_valid": True}),
        deductions=[Deduction.model_validate(d) for d in details.get("deductions", [])],
        **({"weights": details["weights"]} if details.get("weights") else {}),
        as_of=details.get("as_of") or row["calculated_at"])


def explain_policy(conn: psycopg.Connection, policy_id: int) -> PolicyExplanation:
    """Load the explanation of one policy; ``TerminalError`` (DP_2001) when it does not exist."""
    with conn.cursor(row_factory=dict_row) as cur:
        # Only the columns this role may read: the read-only role never sees the personal-data ones.
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in readable_columns(conn, "policies"))
        cur.execute(sql.SQL("SELECT {} FROM policies WHERE id = %s").format(columns), (policy_id,))
        found = cur.fetchone()
        if found is None:
            raise TerminalError(f"policy {policy_id} does not exist", code=ErrorCode.VALIDATION_FAILED,
                                hint="pass the numeric id of a row in the policies table")
        policy = PolicyRow.model_validate(found)
        cur.execute("SELECT * FROM quality_metrics WHERE policy_id = %s ORDER BY calculated_at DESC, id LIMIT 1",
                    (str(policy_id),))
        metric = cur.fetchone()
        cur.execute("SELECT \"timestamp\" AS at, action, metadata FROM audit_logs WHERE entity_type = 'policy' "
                    "AND entity_id = %s ORDER BY \"timestamp\"", (str(policy_id),))
        history = [StatusChangeRecord(at=r["at"], action=r["action"], reason=(r["metadata"] or {}).get("reason"),
                                      run_id=(r["metadata"] or {}).get("run_id")) for r in cur.fetchall()]
    return PolicyExplanation(
        policy_id=policy.id, title=policy.title, source=f"{policy.source_system}:{policy.source_id}",
        status=policy.status.value, score=_stored_score(metric) if metric else None,
        calculation_method=metric["calculation_method"] if metric else None,
        history=history, duplicate=duplicate_of(conn, policy_id))
