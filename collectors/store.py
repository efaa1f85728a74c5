"""The write path: a mapped page into PostgreSQL in one transaction.

* Upsert by ``(source_system, source_id)``; a record whose content hash is unchanged writes
  nothing at all (no row version, no event).
* A new or changed record is stored with status ``pending_validation`` (its content has not
  been scored yet), gets a ``policy.validated`` outbox event (schema-validated by
  ``aegis.events.write_events``, the whole page in two statements) and a
  ``processing_history`` row, all in the same transaction as the row itself.
* A rejected record goes to ``dead_letters`` whole (raw payload, DP_2xxx code, reason), in the
  same transaction, once: the same unresolved rejection is not stored twice. A record the masking
  fails on (a detector bug) is one of them (DP_2001): it costs that record, never its page.
* **Personal data is masked here**, before the row exists (``aegis.privacy``, docs/privacy.md):
  every streamed text column of ``policies`` and the outbox payload hold masked text only, so the
  WAL, the change topics (before-images included) and every target see nothing else. The source
  payload, unmasked, goes to ``policy_sources`` (never published) with the page's request URL
  (credentials redacted), the run id, the fetch time and the payload's digest — the lineage.
  The stored ``content_hash`` is the unmasked record's hash combined with the masking policy's
  version (``aegis.privacy.masked_content_hash``).

Either the whole page is stored (its rejections in ``dead_letters``) or nothing of it is.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from aegis.audit import set_change_context
from aegis.errors import ErrorCode, TransientError
from aegis.events import PolicyValidated, write_events
from aegis.models.policy import PolicyRecord, PolicyStatus
from aegis.privacy import MASKING_POLICY_VERSION, mask_policy_values, masked_content_hash, raw_digest, redact_url
from collectors.models import BatchOutcome, MappedPage, Rejection, SourceSummary

COLLECTOR_VERSION = "aegis-collectors/0.1"
log = logging.getLogger(__name__)

_COLUMNS = ("source_system", "source_id", "title", "content", "issuing_organization", "executing_organization",
            "target_regions", "target_group", "target_industry", "support_field", "funding_type",
            "application_start_date", "application_end_date", "application_period_text",
            "application_always_open", "original_url", "contact_email", "contact_phone", "contact_address",
            "attachments", "source_updated_at", "content_hash", "collection_metadata")
_SQL_TYPES = {"target_regions": "text[]", "application_start_date": "date", "application_end_date": "date",
              "application_always_open": "boolean", "attachments": "jsonb",
              "collection_metadata": "jsonb", "source_updated_at": "timestamptz"}
_UPDATED = [c for c in _COLUMNS if c not in ("source_system", "source_id")]

# One statement per page: the rows travel as one JSON array and are unpacked by jsonb_to_recordset.
UPSERT_SQL = (
    f"INSERT INTO policies ({', '.join(_COLUMNS)}, status) "
    f"SELECT {', '.join(_COLUMNS)}, 'pending_validation' FROM jsonb_to_recordset(%s::jsonb) AS r("
    + ", ".join(f"{c} {_SQL_TYPES.get(c, 'text')}" for c in _COLUMNS) + ") "
    "ON CONFLICT (source_system, source_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED)
    + ", status = 'pending_validation', quality_score = NULL, collected_at = now(), updated_at = now() "
    "WHERE policies.content_hash IS DISTINCT FROM EXCLUDED.content_hash "
    "RETURNING id, (xmax = 0) AS inserted, source_id"
)

# The restricted side of a stored record (never published): its unmasked payload and lineage.
_SOURCES_SQL = (
    "INSERT INTO policy_sources (policy_id, raw_data, raw_digest, source_content_hash, request_url, run_id, "
    "fetched_at, masking_version, masked_findings) "
    "SELECT policy_id, raw_data, raw_digest, source_content_hash, request_url, run_id, fetched_at, "
    "masking_version, masked_findings FROM jsonb_to_recordset(%s::jsonb) AS r(policy_id bigint, raw_data jsonb, "
    "raw_digest text, source_content_hash text, request_url text, run_id text, fetched_at timestamptz, "
    "masking_version text, masked_findings jsonb) "
    "ON CONFLICT (policy_id) DO UPDATE SET raw_data = EXCLUDED.raw_data, raw_digest = EXCLUDED.raw_digest, "
    "source_content_hash = EXCLUDED.source_content_hash, request_url = EXCLUDED.request_url, "
    "run_id = EXCLUDED.run_id, fetched_at = EXCLUDED.fetched_at, masking_version = EXCLUDED.masking_version, "
    "masked_findings = EXCLUDED.masked_findings"
)

_HISTORY_SQL = ("INSERT INTO processing_history (policy_id, processing_path, status, processing_time_ms) "
                "VALUES (%s, 'hot', %s, %s)")

_DEAD_LETTER_SQL = (
    "INSERT INTO dead_letters (source_system, source_id, error_code, reason, raw_payload, pipeline_run_id) "
    "SELECT %(system)s, %(id)s, %(code)s, %(reason)s, %(payload)s, %(run)s "
    "WHERE NOT EXISTS (SELECT 1 FROM dead_letters WHERE source_system = %(system)s "
    "  AND source_id IS NOT DISTINCT FROM %(id)s AND resolved_at IS NULL "
    "  AND reason = %(reason)s AND raw_payload = %(payload)s)"
)


def _jsonb(value: object) -> Jsonb:
    return Jsonb(value, dumps=lambda v: json.dumps(v, ensure_ascii=False, default=str))


class _Masked:
    """One record split into its streamed (masked) row and its restricted source row."""

    __slots__ = ("findings", "raw", "row")

    def __init__(self, record: PolicyRecord, source_hash: str, metadata: dict):
        values = record.model_dump(mode="json")
        self.raw = values.pop("raw_data")
        self.row, self.findings = mask_policy_values(values)
        self.row["content_hash"] = masked_content_hash(source_hash)
        self.row["collection_metadata"] = metadata


def store_page(conn: psycopg.Connection, source_system: str, page: MappedPage, *, run_id: str,
               started: float | None = None, request_url: str | None = None) -> BatchOutcome:
    """Store ``page`` in one transaction (see the module docstring); ``conn`` must be autocommit.

    ``request_url`` is the page's request (its credentials are redacted before it is stored)."""
    started = time.monotonic() if started is None else started
    latest: dict[str, PolicyRecord] = {r.source_id: r for r in page.records}  # a repeated id: the last wins
    source_hashes = {sid: rec.content_hash() for sid, rec in latest.items()}
    hashes = {sid: masked_content_hash(h) for sid, h in source_hashes.items()}
    outcome = BatchOutcome(rejected=len(page.rejections))
    try:
        with conn.transaction():
            stored: dict[str, str | None] = dict(conn.execute(
                "SELECT source_id, content_hash FROM policies WHERE source_system = %s AND source_id = ANY(%s)",
                (source_system, list(latest))).fetchall()) if latest else {}
            pending = [sid for sid in latest if (stored.get(sid) or "").strip() != hashes[sid]]
            outcome.unchanged = len(latest) - len(pending)
            metadata = {"run_id": run_id, "collector": COLLECTOR_VERSION, "page": page.number}
            masked, unmaskable = _mask_records([latest[sid] for sid in pending], source_hashes, metadata, source_system)
            outcome.rejected += len(unmaskable)
            if masked:
                set_change_context(conn, actor="collector", reason=f"collected from {source_system}", run_id=run_id)
            written = _upsert(conn, [m.row for m in masked.values()])
            outcome.unchanged += len(masked) - len(written)  # another writer stored the same content first
            collected_at = datetime.now(UTC)
            elapsed_ms = int((time.monotonic() - started) * 1000)
            _store_sources(conn, [(policy_id, source_hashes[sid], masked[sid]) for policy_id, _, sid in written],
                           run_id=run_id, request_url=redact_url(request_url), fetched_at=collected_at)
            validated = []
            for policy_id, inserted, source_id in written:
                row = masked[source_id].row  # the event carries the masked text, like the row
                validated.append(PolicyValidated(
                    policy_id=str(policy_id), title=row["title"], content=row["content"],
                    issuing_organization=row["issuing_organization"], processing_path="hot",
                    source_system=source_system, collected_at=collected_at))
                if inserted:
                    outcome.new += 1
                else:
                    outcome.changed += 1
                outcome.changed_ids.append(policy_id)
            write_events(conn, validated)
            if written:
                with conn.cursor() as cur:
                    cur.executemany(_HISTORY_SQL, [(str(pid), PolicyStatus.PENDING_VALIDATION.value, elapsed_ms)
                                                   for pid, _, _ in written])
            for rejection in [*page.rejections, *unmaskable]:
                _dead_letter(conn, source_system, rejection, run_id)
    except psycopg.OperationalError as exc:
        raise TransientError(f"{source_system} page {page.number}: PostgreSQL failed while storing: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                             code=ErrorCode.DATABASE_UNAVAILABLE,
                             hint="nothing of this page was stored; check `aegis stack status`") from None
    return outcome


def _mask_records(records: list[PolicyRecord], source_hashes: dict[str, str], metadata: dict,
                  source_system: str) -> tuple[dict[str, _Masked], list[Rejection]]:
    """Each record masked; one the masking raises on becomes a DP_2001 rejection (kept in
    ``dead_letters``, which is never streamed), so a detector bug costs that record only."""
    masked: dict[str, _Masked] = {}
    unmaskable: list[Rejection] = []
    for record in records:
        try:
            masked[record.source_id] = _Masked(record, source_hashes[record.source_id], metadata)
        except Exception as exc:  # noqa: BLE001 - any bug in a detector; its message may quote the text, so it is not kept
            log.error("masking personal data failed on a record; it was not stored and is in dead_letters",
                      extra={"source": source_system, "source_id": record.source_id,
                             "code": ErrorCode.VALIDATION_FAILED.value, "error": type(exc).__name__})
            unmaskable.append(Rejection(
                source_id=record.source_id, error_code=ErrorCode.VALIDATION_FAILED.value,
                reason=f"masking personal data failed ({type(exc).__name__}, a bug in the masking); "
                       "the record was not stored: fix the detector and collect again",
                raw_payload=record.raw_data))
    return masked, unmaskable


def _upsert(conn: psycopg.Connection, rows: list[dict]) -> list[tuple[int, bool, str]]:
    if not rows:
        return []
    return conn.execute(UPSERT_SQL, (json.dumps(rows, ensure_ascii=False),)).fetchall()


def _store_sources(conn: psycopg.Connection, written: list[tuple[int, str, _Masked]], *, run_id: str,
                   request_url: str | None, fetched_at: datetime) -> None:
    if not written:
        return
    rows = [{"policy_id": policy_id, "raw_data": m.raw, "raw_digest": raw_digest(m.raw),
             "source_content_hash": source_hash, "request_url": request_url, "run_id": run_id,
             "fetched_at": fetched_at.isoformat(), "masking_version": MASKING_POLICY_VERSION,
             "masked_findings": m.findings} for policy_id, source_hash, m in written]
    conn.execute(_SOURCES_SQL, (json.dumps(rows, ensure_ascii=False, default=str),))


def _dead_letter(conn: psycopg.Connection, source_system: str, rejection: Rejection, run_id: str) -> None:
    conn.execute(_DEAD_LETTER_SQL, {"system": source_system, "id": rejection.source_id,
                                    "code": rejection.error_code, "reason": rejection.reason,
                                    "payload": _jsonb(rejection.raw_payload), "run": run_id})


def record_pass(conn: psycopg.Connection, run_id: str, summaries: list[SourceSummary], started_at: datetime) -> None:
    """One ``pipeline_metadata`` row for a collection pass (bookkeeping; not streamed by CDC)."""
    failed = [s.source for s in summaries if s.error]
    conn.execute(
        "INSERT INTO pipeline_metadata (pipeline_run_id, processing_path, started_at, completed_at, status, "
        "records_processed, records_failed, metadata) VALUES (%s, 'hot', %s, now(), %s, %s, %s, %s)",
        (run_id, started_at, "failed" if failed and len(failed) == len(summaries) else
         "partial" if failed else "completed",
         sum(s.fetched for s in summaries), sum(s.rejected for s in summaries),
         _jsonb({"kind": "collection", "sources": [s.model_dump(mode="json") for s in summaries]})))
