"""Promotion: score ``pending_validation`` policies and move them to ``active``, ``rejected`` or
``archived``; archive active policies whose application period ended.

Rules (docs/reconciler.md):

* invalid (``validate_policy`` errors) → ``rejected``;
* total < ``QUALITY_SCORE_THRESHOLD`` → ``rejected``;
* application window closed more than ``RECONCILE_ARCHIVE_GRACE_DAYS`` ago → ``archived``
  (it would only be promoted to be archived again: targets never see it);
* otherwise → ``active``.

Each batch of ``COLD_PATH_BATCH_SIZE`` rows is one transaction: rows are locked (``SKIP
LOCKED``: a row a collector is writing is left for the next pass), each score is stored in
``quality_metrics`` (method and deductions in ``details``) and ``processing_history``, and each
status change writes its outbox event and audit row (``reconciler.status``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from aegis.events import QualityScorePayload
from aegis.models.policy import PolicyRow, PolicyStatus
from reconciler.quality import QualityScore, score_policy
from reconciler.status import StatusChange, apply_status_change

Progress = Callable[[str], None]

DECISIONS_LISTED = 1000
"""Decisions kept (and reported) per pass; the counts always cover every policy."""


class PromotionDecision(BaseModel):
    """What one policy became, and why."""

    policy_id: int
    from_status: PolicyStatus
    to_status: PolicyStatus
    total_score: float
    reason: str
    applied: bool = True  # False on a dry run, or when the row changed under us


class PromotionSummary(BaseModel):
    scored: int = 0
    activated: int = 0
    rejected: int = 0
    archived: int = 0
    expired: int = 0  # active policies archived because their application period ended
    skipped: int = 0  # rows that changed while being scored (left for the next pass)
    decisions: list[PromotionDecision] = Field(default_factory=list)
    activated_ids: list[int] = Field(default_factory=list, exclude=True)  # all of them, for duplicate checks

    def count(self, decision: PromotionDecision) -> None:
        if len(self.decisions) < DECISIONS_LISTED:
            self.decisions.append(decision)
        if not decision.applied and decision.reason.startswith("skipped"):
            self.skipped += 1
            return
        if decision.from_status is PolicyStatus.ACTIVE:
            self.expired += 1
        elif decision.to_status is PolicyStatus.ACTIVE:
            self.activated += 1
            self.activated_ids.append(decision.policy_id)
        elif decision.to_status is PolicyStatus.REJECTED:
            self.rejected += 1
        else:
            self.archived += 1


def payload_of(score: QualityScore) -> QualityScorePayload:
    return QualityScorePayload(total_score=score.total_score, completeness=score.completeness,
                               accuracy=score.accuracy, consistency=score.consistency,
                               timeliness=score.timeliness)


def window_closed_before(row: PolicyRow, cutoff: date) -> bool:
    """True when the application period ended before ``cutoff`` (never for always-open policies)."""
    return (not row.application_always_open and row.application_end_date is not None
            and row.application_end_date < cutoff)


def decide(row: PolicyRow, score: QualityScore, *, threshold: float, archive_cutoff: date) -> tuple[PolicyStatus, str]:
    """The status a scored pending policy moves to, and the reason in words."""
    if not score.validation.is_valid:
        return PolicyStatus.REJECTED, "invalid: " + "; ".join(score.validation.errors)
    if score.total_score < threshold:
        return PolicyStatus.REJECTED, f"quality {score.total_score:.2f} is below the threshold {threshold:.2f}"
    if window_closed_before(row, archive_cutoff):
        return PolicyStatus.ARCHIVED, (f"quality {score.total_score:.2f} passes, but the application period "
                                       f"ended on {row.application_end_date}")
    return PolicyStatus.ACTIVE, f"quality {score.total_score:.2f} passes the threshold {threshold:.2f}"


def store_score(conn: psycopg.Connection, policy_id: int, score: QualityScore, *, run_id: str,
                elapsed_ms: int, status: PolicyStatus) -> None:
    """One ``quality_metrics`` row (with everything ``aegis quality explain`` shows) and one history row."""
    details = {"deductions": [d.model_dump(mode="json") for d in score.deductions],
               "validation": score.validation.model_dump(), "weights": {d.value: w for d, w in score.weights.items()},
               "as_of": score.as_of.isoformat(), "run_id": run_id}
    conn.execute(
        "INSERT INTO quality_metrics (policy_id, total_score, completeness, accuracy, consistency, timeliness, "
        "calculated_at, calculation_method, details) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (str(policy_id), score.total_score, score.completeness, score.accuracy, score.consistency,
         score.timeliness, score.as_of, score.calculation_method, json.dumps(details, ensure_ascii=False)))
    conn.execute(
        "INSERT INTO processing_history (policy_id, processing_path, status, quality_score, validation_errors, "
        "processing_time_ms) VALUES (%s, 'cold', %s, %s, %s, %s)",
        (str(policy_id), status.value, score.total_score,
         json.dumps(score.validation.errors, ensure_ascii=False), elapsed_ms))


def _fetch_batch(conn: psycopg.Connection, where: str, params: dict, *, after_id: int, limit: int,
                 lock: bool) -> list[PolicyRow]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT * FROM policies WHERE {where} AND id > %(after)s ORDER BY id LIMIT %(limit)s"
                    + (" FOR UPDATE SKIP LOCKED" if lock else ""), {**params, "after": after_id, "limit": limit})
        return [PolicyRow.model_validate(r) for r in cur.fetchall()]


def promote_pending(conn: psycopg.Connection, *, threshold: float, archive_grace_days: int, batch_size: int,
                    as_of: datetime, run_id: str, dry_run: bool = False,
                    progress: Progress = lambda _: None) -> PromotionSummary:
    """Score every ``pending_validation`` policy and move it on (see module doc)."""
    summary = PromotionSummary()
    cutoff = as_of.date() - timedelta(days=archive_grace_days)
    after_id = 0
    while True:
        with conn.transaction():
            rows = _fetch_batch(conn, "status = 'pending_validation'", {}, after_id=after_id, limit=batch_size,
                                lock=not dry_run)
            if not rows:
                break
            for row in rows:
                started = time.perf_counter()
                score = score_policy(row, as_of)
                to_status, reason = decide(row, score, threshold=threshold, archive_cutoff=cutoff)
                applied = False
                if not dry_run:
                    store_score(conn, row.id, score, run_id=run_id, status=to_status,
                                elapsed_ms=int((time.perf_counter() - started) * 1000))
                    applied = apply_status_change(conn, StatusChange(
                        policy_id=row.id, from_status=PolicyStatus.PENDING_VALIDATION, to_status=to_status,
                        reason=reason, score=payload_of(score), expected_content_hash=row.content_hash),
                        run_id=run_id)
                    if not applied:
                        reason = "skipped: the row changed while it was scored"
                decision = PromotionDecision(policy_id=row.id, from_status=PolicyStatus.PENDING_VALIDATION,
                                             to_status=to_status, total_score=score.total_score, reason=reason,
                                             applied=applied)
                summary.scored += 1
                summary.count(decision)
        after_id = rows[-1].id
        progress(f"quality: scored {summary.scored} (active {summary.activated}, rejected {summary.rejected}, "
                 f"archived {summary.archived})")
    return summary


def archive_expired(conn: psycopg.Connection, *, archive_grace_days: int, batch_size: int, as_of: datetime,
                    run_id: str, dry_run: bool = False, summary: PromotionSummary | None = None,
                    progress: Progress = lambda _: None) -> PromotionSummary:
    """Archive active policies whose application period ended more than the grace period ago."""
    summary = summary or PromotionSummary()
    cutoff = as_of.date() - timedelta(days=archive_grace_days)
    after_id = 0
    where = ("status = 'active' AND NOT application_always_open AND application_end_date IS NOT NULL "
             "AND application_end_date < %(cutoff)s")
    while True:
        with conn.transaction():
            rows = _fetch_batch(conn, where, {"cutoff": cutoff}, after_id=after_id, limit=batch_size,
                                lock=not dry_run)
            if not rows:
                break
            for row in rows:
                score = score_policy(row, as_of)
                reason = (f"application period ended on {row.application_end_date}, "
                          f"more than {archive_grace_days} days before {as_of.date().isoformat()}")
                applied = False
                if not dry_run:
                    store_score(conn, row.id, score, run_id=run_id, status=PolicyStatus.ARCHIVED, elapsed_ms=0)
                    applied = apply_status_change(conn, StatusChange(
                        policy_id=row.id, from_status=PolicyStatus.ACTIVE, to_status=PolicyStatus.ARCHIVED,
                        reason=reason, score=payload_of(score), expected_content_hash=row.content_hash),
                        run_id=run_id)
                    if not applied:
                        reason = "skipped: the row changed while it was archived"
                decision = PromotionDecision(policy_id=row.id, from_status=PolicyStatus.ACTIVE,
                                             to_status=PolicyStatus.ARCHIVED, total_score=score.total_score,
                                             reason=reason, applied=applied)
                summary.count(decision)
        after_id = rows[-1].id
        progress(f"quality: archived {summary.expired} active policies whose application period ended")
    return summary
