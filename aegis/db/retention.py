"""Retention: what is deleted when, so personal data and bookkeeping do not pile up forever.

``enforce_retention`` applies ``RetentionSettings`` (docs/privacy.md, "Retention"):

* ``policy_sources.raw_data`` (the unmasked source payload) is emptied after ``raw_data_days``; the
  payload's digest, the request URL and the run id stay, so lineage still names what was fetched.
  Resolved collector dead letters (they hold a raw payload too) are deleted after the same time;
  unresolved ones are kept until someone resolves them (nothing is lost silently).
* ``processing_history`` rows older than ``processing_history_days`` are deleted.
* ``audit_logs`` rows older than ``audit_logs_days`` are deleted, and so are ``outbox_event_log``
  rows and ``policy_versions`` rows older than that, except each policy's latest version.

Deletes run in batches (one transaction each), so a large backlog never holds long locks. The run
itself is audited (``retention_purged``) with what it removed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from pydantic import BaseModel

from aegis.audit import AuditAction, AuditEntry, write_audit
from aegis.db.connection import scalar
from aegis.settings import RetentionSettings

BATCH = 5000

_STEPS: dict[str, str] = {
    "raw_data": ("UPDATE policy_sources SET raw_data = NULL WHERE policy_id IN (SELECT policy_id FROM policy_sources "
                 "WHERE raw_data IS NOT NULL AND fetched_at < %(raw)s LIMIT %(batch)s)"),
    "dead_letters": ("DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE resolved_at IS NOT NULL "
                     "AND created_at < %(raw)s LIMIT %(batch)s)"),
    "processing_history": ("DELETE FROM processing_history WHERE id IN (SELECT id FROM processing_history "
                           "WHERE processed_at < %(history)s LIMIT %(batch)s)"),
    "audit_logs": ("DELETE FROM audit_logs WHERE id IN (SELECT id FROM audit_logs WHERE \"timestamp\" < %(audit)s "
                   "LIMIT %(batch)s)"),
    "outbox_event_log": ("DELETE FROM outbox_event_log WHERE event_id IN (SELECT event_id FROM outbox_event_log "
                         "WHERE created_at < %(audit)s LIMIT %(batch)s)"),
    "policy_versions": ("DELETE FROM policy_versions WHERE id IN (SELECT v.id FROM policy_versions v "
                        "WHERE v.changed_at < %(audit)s AND EXISTS (SELECT 1 FROM policy_versions w "
                        "WHERE w.policy_id = v.policy_id AND w.id > v.id) LIMIT %(batch)s)"),
}
_COUNTS: dict[str, str] = {
    "raw_data": "SELECT count(*) FROM policy_sources WHERE raw_data IS NOT NULL AND fetched_at < %(raw)s",
    "dead_letters": "SELECT count(*) FROM dead_letters WHERE resolved_at IS NOT NULL AND created_at < %(raw)s",
    "processing_history": "SELECT count(*) FROM processing_history WHERE processed_at < %(history)s",
    "audit_logs": "SELECT count(*) FROM audit_logs WHERE \"timestamp\" < %(audit)s",
    "outbox_event_log": "SELECT count(*) FROM outbox_event_log WHERE created_at < %(audit)s",
    "policy_versions": ("SELECT count(*) FROM policy_versions v WHERE v.changed_at < %(audit)s AND EXISTS "
                        "(SELECT 1 FROM policy_versions w WHERE w.policy_id = v.policy_id AND w.id > v.id)"),
}


class RetentionResult(BaseModel):
    """Rows removed (or, in a dry run, that would be) per kind, and the cut-off times used."""

    removed: dict[str, int]
    cutoffs: dict[str, datetime]
    dry_run: bool = False


def enforce_retention(conn: psycopg.Connection, retention: RetentionSettings, *, now: datetime | None = None,
                      dry_run: bool = False) -> RetentionResult:
    """Apply the retention settings once; ``conn`` must be autocommit."""
    now = now or datetime.now(UTC)
    cutoffs = {"raw": now - timedelta(days=retention.raw_data_days),
               "history": now - timedelta(days=retention.processing_history_days),
               "audit": now - timedelta(days=retention.audit_logs_days)}
    removed: dict[str, int] = {}
    for kind, statement in _STEPS.items():
        if dry_run:
            removed[kind] = int(scalar(conn, _COUNTS[kind], cutoffs))
            continue
        total = 0
        while True:
            with conn.transaction():
                count = conn.execute(statement, {**cutoffs, "batch": BATCH}).rowcount
            total += count
            if count < BATCH:
                break
        removed[kind] = total
    if not dry_run and any(removed.values()):
        with conn.transaction():
            write_audit(conn, AuditEntry(
                entity_type="table", entity_id="retention", action=AuditAction.RETENTION.value,
                actor="retention",
                reason=(f"raw payloads > {retention.raw_data_days} d, processing history > "
                        f"{retention.processing_history_days} d, audit > {retention.audit_logs_days} d"),
                changes={"removed": removed}))
    return RetentionResult(removed=removed, dry_run=dry_run,
                           cutoffs={"raw_data": cutoffs["raw"], "processing_history": cutoffs["history"],
                                    "audit_logs": cutoffs["audit"]})
