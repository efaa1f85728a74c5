"""K-Startup announcements (data.go.kr) — ``getAnnouncementInformation01`` (formats.md §2, §3, §8).

The page is odcloud-shaped (``data``, ``matchCount``) or the classic envelope
(``response/body/items/item``), as JSON or XML; gateway errors in either encoding (see
``collectors.sources.datagokr``).
"""

from __future__ import annotations

from aegis.models.policy import PolicyRecord
from collectors.models import RawItem
from collectors.parsing.dates import period_from_dates
from collectors.parsing.regions import regions_from_text
from collectors.sources.base import build_record, without_keys
from collectors.sources.datagokr import DataGoKrSource
from collectors.sources.envelope import has_any
from collectors.sources.fields import ItemFields

LIVE_URL = "https://apis.data.go.kr"
SITE_URL = "https://www.k-startup.go.kr"  # relative links in records point here
PATH = "/B552735/kisedKstartupService01/getAnnouncementInformation01"
KEY_SETTING = "SOURCE_KSTARTUP_API_KEY"
_VOLATILE = frozenset({"id"})  # a row number in the listing, not an identifier
_LOOKS_LIKE_ITEM = has_any("pbanc_sn", "biz_pbanc_nm")


class KStartupSource(DataGoKrSource):
    name = "kstartup"

    path = PATH
    key_setting = KEY_SETTING
    id_field = "pbanc_sn"
    return_type = "json"
    looks_like_item = _LOOKS_LIKE_ITEM

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw = item.payload
        f = ItemFields(raw)
        period = period_from_dates(f.text("pbanc_rcpt_bgng_dt"), f.text("pbanc_rcpt_end_dt"))
        sections = [f.html("pbanc_ctnt")]
        for label, key in (("신청대상", "aply_trgt_ctnt"), ("제외대상", "aply_excl_trgt_ctnt")):
            if text := f.html(key):
                sections.append(f"[{label}] {text}")
        return build_record(
            self.name, item.source_id,
            title=f.plain("biz_pbanc_nm") or "",
            content="\n".join(s for s in sections if s),
            issuing_organization=f.plain("pbanc_ntrp_nm") or "",
            executing_organization=f.plain("biz_prch_dprt_nm"),
            target_regions=regions_from_text(f.text("supt_regin")),
            target_group=f.plain("aply_trgt"),
            support_field=f.plain("supt_biz_clsfc"),
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=f.url("detl_pg_url", SITE_URL) or f.url("biz_gdnc_url", SITE_URL),
            contact_phone=f.text("prch_cnpl_no"),
            raw_data=without_keys(raw, _VOLATILE),
        )
