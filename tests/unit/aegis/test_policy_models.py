from datetime import date

from aegis.models.policy import PolicyRecord, PolicyRow, PolicyStatus
from aegis.privacy import mask_value


def _record(**overrides):
    base = dict(source_system="bizinfo", source_id="PBLN_000000000127023", title="2026년 창업도약패키지",
                content="창업 3~7년 기업 지원", issuing_organization="중소벤처기업부",
                target_regions=["서울", "부산", "서울"], application_start_date=date(2026, 3, 1))
    base.update(overrides)
    return PolicyRecord(**base)


def test_content_hash_is_stable_and_sensitive_to_content():
    assert _record().content_hash() == _record().content_hash()
    assert _record().content_hash() != _record(content="다른 내용").content_hash()
    assert len(_record().content_hash()) == 64


def test_regions_are_deduplicated_in_order():
    assert _record().target_regions == ["서울", "부산"]


def test_row_accepts_debezium_encodings():
    row = PolicyRow.model_validate({
        "id": 7, "source_system": "kstartup", "source_id": "171234", "title": "t", "content": "c",
        "issuing_organization": "o", "content_hash": "0" * 64, "status": "active",
        "application_end_date": 20454, "raw_data": '{"a": 1}', "attachments": "[]",
        "updated_at": "2026-11-26T06:00:00.123456Z"})
    assert row.application_end_date == date(2026, 1, 1)
    assert row.raw_data == {"a": 1}
    assert row.status is PolicyStatus.ACTIVE and row.is_active


def test_masking_keeps_edges_only():
    assert mask_value("hong@example.kr") == "ho" + "*" * 11 + "kr"
    assert mask_value("010") == "***"
    assert mask_value(None) is None
