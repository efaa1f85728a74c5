"""Policy rows for tests, benchmarks and the fault suite: one place for what a policy looks like.

* ``good_row`` / ``good_policy``: a complete, accurate, consistent and fresh policy — as the
  ``PolicyRow`` the reconciler's unit tests score (fixed dates, ``AS_OF``), or as the column values
  a collector would store today (``insert_policy`` writes them);
* ``minimal_policy``: the fewest columns a valid row needs (change-stream tests);
* ``sink_record``: what CDC hands a sink for a row (written straight into a target, as CDC would have);
* ``sample_texts`` / ``seed_policies``: real-shaped Korean texts from the sample catalogue, and a
  working set of active policies written in one transaction (benchmarks, fault suite).
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aegis.models.policy import PolicyRow, PolicyStatus
from cdc_sinks.base import PolicyDocument, SinkRecord

AS_OF = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)

COMPLETE: dict[str, Any] = dict(
    content="청년 창업기업의 사업화를 위해 시제품 제작, 마케팅, 지식재산권 비용을 최대 1억원까지 지원합니다.",
    issuing_organization="중소벤처기업부", executing_organization="창업진흥원", target_regions=["전국"],
    target_group="만 39세 이하 예비창업자", support_field="창업", funding_type="보조금",
    contact_email="help@kised.or.kr", contact_phone="02-2110-2500", status="pending_validation")
"""The columns every complete policy here shares (a 창업 subsidy of 중소벤처기업부)."""


def good_row(**overrides) -> PolicyRow:
    """A complete, accurate, consistent and fresh policy as of ``AS_OF``."""
    values = dict(
        COMPLETE, id=1, source_system="bizinfo", source_id="PBLN_000000000127023",
        title="2026년 청년 창업 사업화 지원사업 공고",
        application_start_date=date(2026, 3, 1), application_end_date=date(2026, 4, 30),
        original_url="https://www.bizinfo.go.kr/web/lay1/bbs/S1T122C128/AS/74/view.do?pblancId=PBLN_1",
        content_hash="a" * 64, source_updated_at=datetime(2026, 3, 10, tzinfo=UTC),
        collected_at=datetime(2026, 3, 14, tzinfo=UTC),
    )
    values.update(overrides)
    return PolicyRow(**values)


def good_policy(source_system: str, source_id: str, **overrides) -> dict[str, Any]:
    """Column values of a complete policy, fresh today, as a collector would store it."""
    today = date.today()
    values = dict(
        COMPLETE, source_system=source_system, source_id=source_id,
        title=f"{today.year}년 청년 창업 사업화 지원사업 공고 {source_id}",
        application_start_date=today - timedelta(days=5), application_end_date=today + timedelta(days=40),
        original_url=f"https://www.bizinfo.go.kr/view.do?pblancId={source_id}",
        source_updated_at=datetime.now(UTC) - timedelta(days=2))
    values.update(overrides)
    return values


def minimal_policy(source_system: str, source_id: str, *, status: str = "active") -> dict[str, Any]:
    """Column values of the smallest valid policy row."""
    return dict(source_system=source_system, source_id=source_id, title=f"정책 {source_id}", content="내용",
                issuing_organization="기관", content_hash="c" * 64, status=status)


def sink_record(row: PolicyRow, lsn: int, *, as_active: bool = False) -> SinkRecord:
    """The record a sink gets for ``row`` at ``lsn`` (``as_active``: as if the row were active)."""
    if as_active:
        row = row.model_copy(update={"status": PolicyStatus.ACTIVE})
    return SinkRecord(row.id, lsn, row.content_hash.strip(), PolicyDocument.from_row(row))


def incompressible_hangul(chars: int, seed: int) -> str:
    """Random Hangul syllables: PostgreSQL cannot compress them under its 2 KB TOAST threshold, so a
    long one is stored out of line (and an update that leaves it alone does not log it)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0xAC00, 0xD7A4)) for _ in range(chars))


def content_hash(values: dict[str, Any]) -> str:
    """A content hash of column values (stable: sorted keys)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def insert_policy(conn, values: dict[str, Any]) -> int:
    """Insert one ``policies`` row of ``values`` (``content_hash`` computed if absent); its id (caller commits)."""
    values = dict(values)
    values.setdefault("content_hash", content_hash(values))
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({k})s" for k in values)
    return conn.execute(f"INSERT INTO policies ({columns}) VALUES ({placeholders}) RETURNING id", values).fetchone()[0]


def sample_texts(count: int, seed: int) -> list[tuple[str, str, str, list[str], str]]:
    """(title, content, organisation, regions, field) of real-shaped Korean policies."""
    from collectors.samples.catalog import SampleCatalog

    return [(i["pblancNm"], f"{i['bsnsSumryCn']}<p>□ 지원대상 : {i['trgetNm']}</p><p>□ 신청방법 : "
             f"{i['reqstMthPapersCn']}</p>", i["jrsdInsttNm"], i["hashtags"].split(",")[1:],
             i["pldirSportRealmLclasCodeNm"]) for i in SampleCatalog(seed=seed).generated_bizinfo(count)]


def seed_policies(conn, source: str, count: int, seed: int = 3) -> dict[int, str]:
    """``count`` active policies of ``source`` in one transaction; their id → content hash."""
    texts, hashes = sample_texts(500, seed=seed), {}
    with conn.transaction():
        for n in range(count):
            title, content, org, regions, support = texts[n % len(texts)]
            digest = secrets.token_hex(32)
            row = conn.execute(
                "INSERT INTO policies (source_system, source_id, title, content, issuing_organization,"
                " target_regions, support_field, content_hash, status)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'active') RETURNING id",
                (source, f"seed-{n}", title, f"{content}<p>{n}</p>", org, regions, support, digest)).fetchone()
            hashes[row[0]] = digest
    return hashes
