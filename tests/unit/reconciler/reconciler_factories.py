"""Policy rows for reconciler unit tests."""

from __future__ import annotations

from datetime import date, datetime, timezone

from aegis.models.policy import PolicyRow

AS_OF = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)


def good_row(**overrides) -> PolicyRow:
    """A complete, accurate, consistent and fresh policy."""
    values = dict(
        id=1, source_system="bizinfo", source_id="PBLN_000000000127023",
        title="2026년 청년 창업 사업화 지원사업 공고",
        content="청년 창업기업의 사업화를 위해 시제품 제작, 마케팅, 지식재산권 비용을 최대 1억원까지 지원합니다.",
        issuing_organization="중소벤처기업부", executing_organization="창업진흥원",
        target_regions=["전국"], target_group="만 39세 이하 예비창업자", support_field="창업",
        funding_type="보조금", application_start_date=date(2026, 3, 1), application_end_date=date(2026, 4, 30),
        original_url="https://www.bizinfo.go.kr/web/lay1/bbs/S1T122C128/AS/74/view.do?pblancId=PBLN_1",
        contact_email="help@kised.or.kr", contact_phone="02-2110-2500", content_hash="a" * 64,
        status="pending_validation", source_updated_at=datetime(2026, 3, 10, tzinfo=timezone.utc),
        collected_at=datetime(2026, 3, 14, tzinfo=timezone.utc),
    )
    values.update(overrides)
    return PolicyRow(**values)
