"""Privacy, lineage, audit and retention against the real PostgreSQL (docs/privacy.md)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from aegis.audit import read_audit
from aegis.db import connect
from aegis.db.backfill import mask_stored_policies
from aegis.db.migrate import PUBLISHED_TABLES
from aegis.db.retention import enforce_retention
from aegis.events import QualityScorePayload
from aegis.models.policy import PolicyRecord, PolicyStatus
from aegis.privacy import OUTBOX_COLUMNS, POLICY_COLUMNS, find_personal_data
from collectors.models import MappedPage
from collectors.store import store_page

pytestmark = pytest.mark.integration

PII = "담당 홍길동 010-2468-1357, 주민등록번호 900101-1234568, hong.gd77@naver.com"


@pytest.fixture
def conn(stack):
    with connect(stack.postgres, autocommit=True) as c:
        yield c


def _record(source_id: str, **extra) -> PolicyRecord:
    return PolicyRecord(source_system="it-privacy", source_id=source_id, title=f"공고 {PII}",
                        content=f"<p>{PII}</p><p>문의 : 051-860-6600</p>", issuing_organization=f"부산시 ({PII})",
                        contact_email="hong.gd77@naver.com", contact_phone="010-2468-1357",
                        raw_data={"body": PII, "n": 1}, **extra)


def test_every_streamed_column_is_classified(conn, stack):
    """A column added to a published table fails here until aegis.privacy classifies it."""
    published = {r[0] for r in conn.execute("SELECT tablename FROM pg_publication_tables WHERE pubname = %s",
                                            (stack.postgres.publication,))}
    assert published == set(PUBLISHED_TABLES) and "policy_sources" not in published
    known = {"policies": POLICY_COLUMNS, "outbox": OUTBOX_COLUMNS}
    for table in published:
        columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                              "WHERE table_schema = 'public' AND table_name = %s", (table,))}
        assert columns <= set(known[table]), f"{table}: unclassified {columns - set(known[table])}"
    assert "raw_data" not in {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'policies'")}


def test_a_record_the_masking_fails_on_costs_that_record_not_its_page(conn, monkeypatch, caplog):
    """A detector bug on one record: that record to dead_letters (never streamed), the rest stored masked."""
    import collectors.store as store

    real = store.mask_policy_values

    def failing_on_one(values):
        if values["source_id"].endswith("-bad"):
            raise RuntimeError(f"detector bug on {values['title']}")
        return real(values)

    monkeypatch.setattr(store, "mask_policy_values", failing_on_one)
    stem = f"maskfail-{uuid.uuid4().hex[:8]}"
    page = MappedPage(number=1, records=[_record(f"{stem}-ok"), _record(f"{stem}-bad")], rejections=[])
    outcome = store_page(conn, "it-privacy", page, run_id="run-maskfail")
    assert (outcome.new, outcome.rejected) == (1, 1)
    stored = [r[0] for r in conn.execute("SELECT source_id FROM policies WHERE source_id LIKE %s", (stem + "%",))]
    assert stored == [f"{stem}-ok"]
    code, reason, payload = conn.execute(
        "SELECT error_code, reason, raw_payload FROM dead_letters WHERE source_id = %s", (f"{stem}-bad",)
    ).fetchone()
    assert code == "DP_2001" and "masking" in reason and "2468" not in reason and payload["body"] == PII
    assert "2468" not in caplog.text


def test_collector_stores_masked_text_and_keeps_the_payload_restricted(conn):
    sid = f"mask-{uuid.uuid4().hex[:8]}"
    store_page(conn, "it-privacy", MappedPage(number=1, records=[_record(sid)], rejections=[]),
               run_id="run-it", request_url="https://apis.data.go.kr/x?serviceKey=SECRET&page=1")
    columns = [c for c in POLICY_COLUMNS if c not in ("row_digest",)]
    row = conn.execute(f"SELECT {', '.join(columns)} FROM policies WHERE source_id = %s", (sid,)).fetchone()
    streamed = dict(zip(columns, row))
    for column, value in streamed.items():
        text = str(value)
        assert "2468-1357" not in text and "1234568" not in text and "hong.gd77" not in text, column
        assert not [f for f in find_personal_data(text) if f.masked], column
    assert "051-860-6600" in streamed["content"]
    raw, url, digest, version = conn.execute(
        "SELECT s.raw_data, s.request_url, s.raw_digest, s.masking_version FROM policy_sources s "
        "JOIN policies p ON p.id = s.policy_id WHERE p.source_id = %s", (sid,)).fetchone()
    assert raw["body"] == PII and "SECRET" not in url and len(digest.strip()) == 64 and version == "pii-v1"
    payloads = conn.execute("SELECT type FROM outbox_event_log WHERE aggregateid = %s",
                            (str(conn.execute("SELECT id FROM policies WHERE source_id = %s", (sid,)).fetchone()[0]),)
                            ).fetchall()
    assert payloads == [("policy.validated",)]


def test_backfill_masks_rows_written_before_the_policy(conn):
    sid = f"old-{uuid.uuid4().hex[:8]}"
    policy_id = conn.execute(
        "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, contact_email, "
        "content_hash) VALUES ('it-privacy', %s, %s, %s, '기관', 'hong.gd77@naver.com', repeat('b', 64)) RETURNING id",
        (sid, f"제목 {PII}", PII)).fetchone()[0]
    seen, changed = mask_stored_policies(conn)
    assert seen >= 1 and changed >= 1
    title, content, email, content_hash = conn.execute(
        "SELECT title, content, contact_email, content_hash FROM policies WHERE id = %s", (policy_id,)).fetchone()
    assert "2468-1357" not in title + content and "1234568" not in title + content
    assert email == "****.****@naver.com" and content_hash != "b" * 64
    versions = conn.execute("SELECT actor, changed FROM policy_versions WHERE policy_id = %s ORDER BY id",
                            (policy_id,)).fetchall()
    assert versions[0][0].startswith("sql:") and versions[-1][0] == "privacy-backfill"
    assert {"title", "content", "contact_email", "content_hash"} <= set(versions[-1][1])
    assert [e.action for e in read_audit(conn, entity_id=str(policy_id))] == ["privacy_masked"]
    assert mask_stored_policies(conn)[1] == 0  # nothing left to do


def test_status_changes_are_audited_and_versioned(conn):
    from reconciler.status import StatusChange, apply_status_change

    sid = f"audit-{uuid.uuid4().hex[:8]}"
    store_page(conn, "it-privacy", MappedPage(number=1, records=[_record(sid)], rejections=[]), run_id="run-it")
    policy_id = conn.execute("SELECT id FROM policies WHERE source_id = %s", (sid,)).fetchone()[0]
    score = QualityScorePayload(completeness=1, accuracy=1, consistency=1, timeliness=1, total_score=0.9)
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    with conn.transaction():
        assert apply_status_change(conn, StatusChange(policy_id=policy_id, from_status=PolicyStatus.PENDING_VALIDATION,
                                                      to_status=PolicyStatus.ACTIVE, reason="score 0.90 ≥ 0.70 (010-1111-2222)",
                                                      score=score), run_id="reconcile-it")
    audit = read_audit(conn, entity_id=str(policy_id), since=before)
    assert [(a.action, a.actor, a.run_id) for a in audit] == [("status_changed:active", "reconciler", "reconcile-it")]
    assert "1111-2222" not in audit[0].reason  # audit rows hold no personal data either
    actor, reason, changed = conn.execute("SELECT actor, reason, changed FROM policy_versions WHERE policy_id = %s "
                                          "ORDER BY id DESC LIMIT 1", (policy_id,)).fetchone()
    assert actor == "reconciler" and reason.startswith("score") and "status" in changed


def test_lineage_names_source_versions_events_and_targets(conn, stack):
    from console.ops.lineage import policy_lineage

    sid = f"lin-{uuid.uuid4().hex[:8]}"
    store_page(conn, "it-privacy", MappedPage(number=1, records=[_record(sid)], rejections=[]), run_id="run-lineage",
               request_url="https://api.example/list?crtfcKey=SECRET&page=3")
    policy_id = conn.execute("SELECT id FROM policies WHERE source_id = %s", (sid,)).fetchone()[0]
    found = policy_lineage(conn, stack, policy_id, targets=["redis"])
    assert found.source.collector_run_id == "run-lineage" and "SECRET" not in found.source.request_url
    assert found.source.raw_payload_kept and len(found.source.raw_payload_digest) == 64
    assert [(v.op, v.actor, v.run_id) for v in found.versions] == [("insert", "collector", "run-lineage")]
    assert [e.type for e in found.events] == ["policy.validated"]
    assert [(t.target, t.present, t.expected_present) for t in found.targets] == [("redis", False, False)]
    result = CliRunner().invoke(__import__("console.cli", fromlist=["cli"]).cli,
                                ["--env-file", "/nonexistent", "lineage", str(policy_id), "--json", "--target", "redis"],
                                env={"POSTGRES_PORT": str(stack.postgres.port), "REDIS_PORT": str(stack.redis.port)})
    assert result.exit_code == 0, result.output
    assert '"collector_run_id": "run-lineage"' in result.output


def test_retention_removes_old_rows_and_keeps_the_latest_version(conn, stack):
    # backdating is set-up; retention runs as the owner (as `aegis retention` does)
    with connect(stack.postgres, autocommit=True, role="owner") as owner:
        sid = f"ret-{uuid.uuid4().hex[:8]}"
        store_page(conn, "it-privacy", MappedPage(number=1, records=[_record(sid)], rejections=[]), run_id="run-ret")
        policy_id = conn.execute("SELECT id FROM policies WHERE source_id = %s", (sid,)).fetchone()[0]
        old = datetime.now(timezone.utc) - timedelta(days=3000)
        owner.execute("UPDATE policy_sources SET fetched_at = %s WHERE policy_id = %s", (old, policy_id))
        owner.execute("UPDATE policies SET target_group = 'x' WHERE id = %s", (policy_id,))  # a second version
        owner.execute("UPDATE policy_versions SET changed_at = %s WHERE policy_id = %s", (old, policy_id))
        owner.execute("INSERT INTO processing_history (policy_id, processing_path, status, processed_at) "
                      "VALUES (%s, 'hot', 'x', %s)", (str(policy_id), old))
        owner.execute("INSERT INTO audit_logs (entity_type, entity_id, action, \"timestamp\") VALUES ('policy', %s, 'x', %s)",
                      (str(policy_id), old))
        dry = enforce_retention(owner, stack.retention, dry_run=True)
        assert all(dry.removed[k] >= 1 for k in ("raw_data", "processing_history", "audit_logs", "policy_versions"))
        result = enforce_retention(owner, stack.retention)
        assert result.removed["raw_data"] >= 1 and result.removed["policy_versions"] >= 1
        raw, digest = owner.execute("SELECT raw_data, raw_digest FROM policy_sources WHERE policy_id = %s",
                                    (policy_id,)).fetchone()
        assert raw is None and digest is not None  # the payload is gone, its digest stays for lineage
        assert owner.execute("SELECT count(*) FROM policy_versions WHERE policy_id = %s", (policy_id,)).fetchone()[0] == 1
        assert owner.execute("SELECT count(*) FROM audit_logs WHERE entity_id = %s AND action = 'x'",
                             (str(policy_id),)).fetchone()[0] == 0
        assert [e.action for e in read_audit(owner, entity_id="retention", limit=1)] == ["retention_purged"]
