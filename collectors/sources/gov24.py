"""보조금24 public services (odcloud) — ``GET /api/gov24/v3/serviceList`` (formats.md §3, §5, §8)."""

from __future__ import annotations

from typing import Any

from aegis.models.policy import PolicyRecord
from collectors.models import RawItem
from collectors.parsing.dates import parse_kst_timestamp, parse_period
from collectors.parsing.regions import NATIONWIDE, regions_from_text
from collectors.sources.base import build_record, without_keys
from collectors.sources.datagokr import DataGoKrSource
from collectors.sources.envelope import has_any
from collectors.sources.fields import ItemFields

LIVE_URL = "https://api.odcloud.kr"
SITE_URL = "https://www.gov.kr"  # 상세조회URL points here; relative links resolve against it
PATH = "/api/gov24/v3/serviceList"
KEY_SETTING = "SOURCE_GOV24_API_KEY"
_VOLATILE = frozenset({"조회수"})
_SECTIONS = (("서비스목적", "서비스목적요약"), ("지원대상", "지원대상"), ("선정기준", "선정기준"),
             ("지원내용", "지원내용"), ("신청방법", "신청방법"))
_LOOKS_LIKE_ITEM = has_any("서비스ID", "서비스명")


class Gov24Source(DataGoKrSource):
    name = "gov24"

    path = PATH
    key_setting = KEY_SETTING
    id_field = "서비스ID"
    return_type = "JSON"
    looks_like_item = _LOOKS_LIKE_ITEM

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        f = ItemFields(raw)
        period = parse_period(f.text("신청기한"))
        sections = [f"[{label}] {text}" for label, key in _SECTIONS if (text := f.html(key))]
        return build_record(
            self.name, item.source_id,
            title=f.plain("서비스명") or "",
            content="\n".join(sections),
            issuing_organization=f.plain("소관기관명") or "",
            executing_organization=_joined(f, "접수기관"),
            target_regions=_regions(f),
            target_group=_joined(f, "사용자구분"),
            support_field=_joined(f, "서비스분야"),
            funding_type=_joined(f, "지원유형"),
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=f.url("상세조회URL", SITE_URL),
            contact_phone=_joined(f, "전화문의"),
            raw_data=without_keys(raw, _VOLATILE),
            source_updated_at=parse_kst_timestamp(f.text("수정일시")) or parse_kst_timestamp(f.text("등록일시")),
        )


def _regions(f: ItemFields) -> list[str]:
    """Central agencies serve the whole country; local governments their own 시도; others unknown."""
    kind = f.text("소관기관유형") or ""
    if kind.startswith("중앙"):
        return [NATIONWIDE]
    if "지방" in kind or "지자체" in kind:
        return regions_from_text(f.text("소관기관명"))
    return []


def _joined(f: ItemFields, key: str) -> Any:
    """``A||B`` multi-values as ``A, B``."""
    text = f.plain(key)
    if text is None:
        return None
    return ", ".join(part.strip() for part in text.split("||") if part.strip()) or None
