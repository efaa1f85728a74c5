"""Masking what is already stored: rows written before the masking policy (or under an older one).

``mask_stored_policies`` walks ``policies`` by id, in batches, for rows whose restricted side
(``policy_sources``) is missing or names another ``MASKING_POLICY_VERSION``. Each row gets its
streamed columns masked and a new content hash (``masked_content_hash`` of the unmasked record's
hash, so the collector later computes the same hash and writes nothing), its ``policy_sources`` row
the version, the payload digest and the counts, and an ``audit_logs`` row (``privacy_masked``).

Each masked row is updated once. The table logs no old row (REPLICA IDENTITY DEFAULT, migration
0009), so the old, unmasked values are in neither the WAL record nor the change event of that
update. (Under FULL, migrations 0005 to 0008, a second, ``updated_at``-only update was needed for a
connector that still published before-images.) What remains unmasked is history already in Kafka:
the change topic is compacted, so once the cleaner has run only the masked event survives for that
key (docs/privacy.md, "Upgrading a deployment", says how to hurry it).
Running it again finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb

from aegis.audit import AuditAction, AuditEntry, set_change_context, write_audit
from aegis.privacy import (
    MASKING_POLICY_VERSION,
    POLICY_COLUMNS,
    ColumnTreatment,
    mask_policy_values,
    masked_content_hash,
    raw_digest,
)

MASKED_COLUMNS = [c for c, t in POLICY_COLUMNS.items() if t is not ColumnTreatment.NOT_PERSONAL]
_JSON_COLUMNS = {"attachments"}

_PENDING_SQL = (
    f"SELECT p.id, p.content_hash, s.source_content_hash, s.raw_digest, s.raw_data IS NOT NULL, "
    f"s.policy_id IS NOT NULL, {', '.join('p.' + c for c in MASKED_COLUMNS)} "
    "FROM policies p LEFT JOIN policy_sources s ON s.policy_id = p.id "
    "WHERE p.id > %s AND (s.policy_id IS NULL OR s.masking_version IS DISTINCT FROM %s) ORDER BY p.id LIMIT %s"
)
_UPDATE_SQL = (f"UPDATE policies SET {', '.join(f'{c} = %({c})s' for c in MASKED_COLUMNS)}, "
               "content_hash = %(content_hash)s, updated_at = now() WHERE id = %(id)s")
_SOURCE_SQL = (
    "INSERT INTO policy_sources (policy_id, source_content_hash, masking_version, masked_findings, raw_digest) "
    "VALUES (%(id)s, %(source_hash)s, %(version)s, %(findings)s, %(digest)s) "
    "ON CONFLICT (policy_id) DO UPDATE SET source_content_hash = EXCLUDED.source_content_hash, "
    "masking_version = EXCLUDED.masking_version, masked_findings = EXCLUDED.masked_findings, "
    "raw_digest = coalesce(policy_sources.raw_digest, EXCLUDED.raw_digest)"
)


def mask_stored_policies(conn: psycopg.Connection, *, batch_size: int = 500,
                         progress: Callable[[int, int], None] = lambda done, masked: None) -> tuple[int, int]:
    """Mask every stored row not yet masked with the current policy; returns (rows seen, rows changed).

    ``conn`` must be autocommit: each batch is its own transaction, so a crash loses nothing done.
    """
    last_id, seen, changed = 0, 0, 0
    while True:
        with conn.transaction():
            rows = conn.execute(_PENDING_SQL, (last_id, MASKING_POLICY_VERSION, batch_size)).fetchall()
            if not rows:
                return seen, changed
            set_change_context(conn, actor="privacy-backfill", reason=f"masked with {MASKING_POLICY_VERSION}")
            digests = _payload_digests(conn, [r[0] for r in rows if r[4] and r[3] is None])
            audits = []
            for row in rows:
                policy_id, stored_hash, source_hash, _, _, _ = row[:6]
                values = dict(zip(MASKED_COLUMNS, row[6:], strict=True))
                masked, findings = mask_policy_values(values)
                source_hash = (source_hash or stored_hash).strip()
                new_hash = masked_content_hash(source_hash)
                if findings or new_hash != stored_hash.strip():
                    params = {c: Jsonb(v) if c in _JSON_COLUMNS else v for c, v in masked.items()}
                    conn.execute(_UPDATE_SQL, {**params, "content_hash": new_hash, "id": policy_id})
                    changed += 1
                    if findings:
                        audits.append(AuditEntry(entity_id=str(policy_id), action=AuditAction.PRIVACY_BACKFILL.value,
                                                 actor="privacy-backfill",
                                                 reason=f"stored text masked with {MASKING_POLICY_VERSION}",
                                                 changes={"masked": findings}))
                conn.execute(_SOURCE_SQL, {"id": policy_id, "source_hash": source_hash,
                                           "version": MASKING_POLICY_VERSION, "findings": Jsonb(findings),
                                           "digest": digests.get(policy_id)})
            write_audit(conn, audits)
            seen += len(rows)
            last_id = rows[-1][0]
        progress(seen, changed)


def _payload_digests(conn: psycopg.Connection, policy_ids: list[int]) -> dict[int, str]:
    if not policy_ids:
        return {}
    rows = conn.execute("SELECT policy_id, raw_data FROM policy_sources WHERE policy_id = ANY(%s)",
                        (policy_ids,)).fetchall()
    return {policy_id: raw_digest(raw) for policy_id, raw in rows}
