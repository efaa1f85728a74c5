"""A policy's lineage (`aegis lineage POLICY_ID`): where it came from, every version PostgreSQL
held and why, the events it caused, the audit trail, and what each target holds now.

Everything but the targets comes from PostgreSQL (``policies``, ``policy_sources``,
``policy_versions``, ``outbox_event_log``, ``audit_logs``, ``consistency_reports``). The targets are
read through their sinks' own read path, in one function, ``read_target_version``, so a change of
the sinks' read API touches one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, Field

from aegis.audit import AuditEntry, read_audit
from aegis.errors import AegisError
from aegis.privacy import mask_text
from aegis.settings import Settings


class SourceLineage(BaseModel):
    source_system: str
    source_id: str
    original_url: str | None = None
    request_url: str | None = None       # credentials redacted when stored
    collector_run_id: str | None = None
    fetched_at: datetime | None = None
    raw_payload_digest: str | None = None
    raw_payload_kept: bool = False       # False once retention emptied it (the digest stays)
    masking_version: str | None = None
    masked: dict[str, int] = Field(default_factory=dict)


class VersionEntry(BaseModel):
    at: datetime
    op: str
    status: str | None
    content_hash: str | None
    changed: list[str]
    actor: str
    reason: str | None
    run_id: str | None


class EventEntry(BaseModel):
    event_id: str
    type: str
    schema_version: str
    at: datetime


class TargetVersion(BaseModel):
    """What one target holds for the policy, read through its sink, and how it compares."""

    target: str
    present: bool = False
    lsn: int | None = None
    content_hash: str | None = None
    matches_postgres: bool | None = None   # same content hash as PostgreSQL holds now
    expected_present: bool = False         # PostgreSQL says it should be there (status active)
    version_written_at: datetime | None = None  # when PostgreSQL wrote the version the target holds
    details: dict[str, str] = Field(default_factory=dict)
    verified: str = "unknown"
    error: str | None = None


class PolicyLineage(BaseModel):
    policy_id: int
    status: str | None
    content_hash: str | None
    source: SourceLineage | None
    versions: list[VersionEntry]
    events: list[EventEntry]
    audit: list[AuditEntry]
    targets: list[TargetVersion]


def read_target_version(settings: Settings, target: str, policy_id: int) -> tuple[int, str, dict[str, str]] | None:
    """(lsn, content hash, details) the target holds for ``policy_id``, or None when it holds none.

    Calls ``cdc_sinks.registry.build_sink(target, settings)`` and the sink's ``read_back(after_id,
    limit=1)`` (active records with id > after_id, markers excluded), then ``close()``.
    """
    from cdc_sinks.registry import build_sink

    sink = build_sink(target, settings)
    try:
        held = sink.read_back(policy_id - 1, 1)
    finally:
        sink.close()
    if not held or held[0].policy_id != policy_id:
        return None
    version = held[0]
    return version.lsn, version.content_hash.strip(), {k: str(v) for k, v in (version.extra or {}).items()}


def policy_lineage(conn: psycopg.Connection, settings: Settings, policy_id: int, *,
                   targets: list[str] | None = None) -> PolicyLineage | None:
    """The whole lineage of ``policy_id``; None when PostgreSQL never held it."""
    row = conn.execute(
        "SELECT p.source_system, p.source_id, p.original_url, p.status, p.content_hash, "
        "s.request_url, coalesce(s.run_id, p.collection_metadata ->> 'run_id'), "
        "coalesce(s.fetched_at, p.collected_at), "
        "s.raw_digest, s.raw_data IS NOT NULL, s.masking_version, s.masked_findings "
        "FROM policies p LEFT JOIN policy_sources s ON s.policy_id = p.id WHERE p.id = %s", (policy_id,)).fetchone()
    versions = [VersionEntry(at=at, op=op, status=status, content_hash=(h or "").strip() or None, changed=changed or [],
                             actor=actor, reason=reason, run_id=run_id)
                for at, op, status, h, changed, actor, reason, run_id in conn.execute(
                    "SELECT changed_at, op, status, content_hash, changed, actor, reason, run_id FROM policy_versions "
                    "WHERE policy_id = %s ORDER BY id", (policy_id,))]
    if row is None and not versions:
        return None
    source = status = content_hash = None
    if row is not None:
        (system, source_id, url, status, content_hash, request_url, run_id, fetched_at, digest, kept, masking,
         masked) = row
        content_hash = content_hash.strip()
        source = SourceLineage(source_system=system, source_id=source_id, original_url=url, request_url=request_url,
                               collector_run_id=run_id, fetched_at=fetched_at,
                               raw_payload_digest=digest.strip() if digest else None, raw_payload_kept=bool(kept),
                               masking_version=masking, masked=masked or {})
    events = [EventEntry(event_id=str(event_id), type=kind, schema_version=version, at=at)
              for event_id, kind, version, at in conn.execute(
                  "SELECT event_id, type, schema_version, created_at FROM outbox_event_log WHERE aggregateid = %s "
                  "ORDER BY created_at", (str(policy_id),))]
    audit = list(reversed(read_audit(conn, entity_id=str(policy_id), limit=1000)))
    names = targets if targets is not None else _target_names(settings)
    written_at = {v.content_hash: v.at for v in versions if v.content_hash}
    report = _last_report(conn)
    held = [_target(settings, name, policy_id, status, content_hash, written_at, report) for name in names]
    return PolicyLineage(policy_id=policy_id, status=status, content_hash=content_hash, source=source,
                         versions=versions, events=events, audit=audit, targets=held)


def _target_names(settings: Settings) -> list[str]:
    from cdc_sinks.registry import sink_names

    return settings.reconciler.target_names or sink_names()


def _last_report(conn: psycopg.Connection) -> dict[str, Any] | None:
    found = conn.execute("SELECT run_id, started_at, checked_at, report FROM consistency_reports "
                         "WHERE NOT dry_run ORDER BY checked_at DESC LIMIT 1").fetchone()
    if found is None:
        return None
    run_id, started_at, checked_at, report = found
    return {"run_id": run_id, "started_at": started_at, "checked_at": checked_at, "report": report or {}}


def _target(settings: Settings, name: str, policy_id: int, status: str | None, content_hash: str | None,
            written_at: dict[str, datetime], report: dict[str, Any] | None) -> TargetVersion:
    result = TargetVersion(target=name, expected_present=status == "active")
    try:
        held = read_target_version(settings, name, policy_id)
    except AegisError as exc:
        result.error = f"{exc.code.value}: {mask_text(exc.message)}"
        return result
    except Exception as exc:  # noqa: BLE001 - one unreachable target must not hide the others
        result.error = f"{type(exc).__name__}: {mask_text(str(exc))[:300]}"
        return result
    if held is not None:
        result.present = True
        result.lsn, result.content_hash, result.details = held
        result.matches_postgres = result.content_hash == content_hash
        result.version_written_at = written_at.get(result.content_hash)
    result.verified = _verified(name, policy_id, result, report)
    return result


def _verified(name: str, policy_id: int, held: TargetVersion, report: dict[str, Any] | None) -> str:
    """What the last (non-dry-run) reconcile pass says about this policy in this target."""
    if report is None:
        return "no reconcile pass yet"
    body, run = report["report"], f"reconcile {report['run_id']} at {report['checked_at']:%Y-%m-%d %H:%M:%S}"
    target = next((t for t in body.get("targets", []) if t.get("target") == name), None)
    if target is None:
        return f"not checked by {run}"
    drift = [i for i in body.get("inconsistencies", []) if i.get("target") == name and i.get("policy_id") == policy_id]
    fixes = [f for f in body.get("fixes_applied", []) if f.get("target") == name and f.get("policy_id") == policy_id]
    if held.version_written_at is not None and held.version_written_at > report["started_at"]:
        return f"not yet: this version was written after {run}"
    if drift:
        kinds = ", ".join(sorted({str(i.get('kind')) for i in drift}))
        outcome = "repaired" if fixes and not any(f.get("error") for f in fixes) else "not repaired"
        return f"{run}: {kinds} drift, {outcome} (target status {target.get('status')})"
    if target.get("status") in ("consistent", "repaired"):
        return f"yes: {run} found {name} {target.get('status')}"
    return f"no: {run} reported {name} {target.get('status')}"
