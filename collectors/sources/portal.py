"""A 공공데이터포털 API defined by configuration (``portal_config.PortalApi``): ``portal:<name>``.

It is read exactly like the built-in data.go.kr sources: the same envelope handling and
gateway codes (``collectors.sources.datagokr``), quota window, retries, circuit breaker, rate
limit (``SourceHttpClient``), per-item isolation and dead letters (``Source.map_one``).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest

from aegis.models.policy import PolicyRecord
from collectors.http.client import HttpResponse, SourceHttpClient
from collectors.models import FetchedPage, RawItem
from collectors.parsing.contacts import find_email, find_phone
from collectors.parsing.dates import parse_kst_timestamp, parse_period, period_from_dates
from collectors.parsing.regions import regions_from_text
from collectors.parsing.urls import canonical_url
from collectors.sources.base import ApiSource, Endpoint, build_record, without_keys
from collectors.sources.datagokr import Listing, read_listing
from collectors.sources.envelope import has_any, raw_items
from collectors.sources.fields import ItemFields
from collectors.sources.portal_config import KEY_SETTING, Constant, FieldSpec, JoinedFields, OneField, PortalApi


class PortalSource(ApiSource):
    """One configured data.go.kr API."""

    def __init__(self, api: PortalApi, endpoint: Endpoint, client: SourceHttpClient):
        super().__init__(endpoint, client)
        self.api = api
        self.name = api.source_system  # type: ignore[misc]  # per instance: one source per API
        self._looks_like_item = has_any(api.id, *_field_names(api.fields.title))

    def pages(self) -> Iterator[FetchedPage]:
        return self.paged(self._page)

    def _page(self, number: int) -> tuple[list[RawItem], int | None]:
        """Page ``number`` (1, 2, ...) is the API's ``first_page + number - 1``."""
        paging = self.api.paging
        params = {**self.api.params, self.api.key_param: self.endpoint.api_key or "",
                  paging.page_param: paging.first_page + number - 1, paging.size_param: self.endpoint.page_size}
        listing: Listing = self.client.get(self.endpoint.base_url + self.api.path, params, self._interpret,
                                           what=f"page {paging.first_page + number - 1}")
        return raw_items(listing.items, lambda r: r.get(self.api.id)), listing.total

    def _interpret(self, response: HttpResponse) -> Listing:
        return read_listing(response, f"{self.name} {response.location}", source=self.name, key_setting=KEY_SETTING,
                            looks_like_item=self._looks_like_item, items_path=self.api.items_path,
                            total_path=self.api.total_path)

    def map_item(self, item: RawItem) -> PolicyRecord:
        raw, spec, site = item.payload, self.api.fields, self.api.site_url
        f = ItemFields(raw)
        if spec.application_period:
            period = parse_period(f.text(spec.application_period))
        else:
            period = period_from_dates(f.text(spec.application_start) if spec.application_start else None,
                                       f.text(spec.application_end) if spec.application_end else None)
        sections = []
        for section in spec.content:
            key, label = (section, None) if isinstance(section, str) else (section.field, section.label)
            if text := f.html(key):
                sections.append(f"[{label}] {text}" if label else text)
        phone_text = f.text(spec.contact_phone) if spec.contact_phone else None
        email_text = f.text(spec.contact_email) if spec.contact_email else None
        regions = _value(f, spec.target_regions)
        return build_record(
            self.name, item.source_id,
            title=_value(f, spec.title) or "",
            content="\n".join(sections),
            issuing_organization=_value(f, spec.issuing_organization) or "",
            executing_organization=_value(f, spec.executing_organization),
            target_regions=regions_from_text(regions),
            target_group=_value(f, spec.target_group),
            target_industry=_value(f, spec.target_industry),
            support_field=_value(f, spec.support_field),
            funding_type=_value(f, spec.funding_type),
            application_start_date=period.start, application_end_date=period.end,
            application_period_text=period.text, application_always_open=period.always_open,
            original_url=f.url(spec.original_url, site) if spec.original_url else None,
            contact_phone=find_phone(phone_text) or phone_text,
            contact_email=find_email(email_text),
            contact_address=_value(f, spec.contact_address),
            attachments=_attachments(f, self.api),
            raw_data=without_keys(raw, frozenset(self.api.volatile)),
            source_updated_at=parse_kst_timestamp(f.text(spec.source_updated_at)) if spec.source_updated_at else None,
        )


def _field_names(spec: FieldSpec | None) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, OneField):
        return [spec.field]
    if isinstance(spec, JoinedFields):
        return list(spec.fields)
    return []


def _value(f: ItemFields, spec: FieldSpec | None) -> str | None:
    if spec is None:
        return None
    if isinstance(spec, Constant):
        return spec.value.strip() or None
    if isinstance(spec, JoinedFields):
        return spec.join.join(v for key in spec.fields if (v := f.plain(key))) or None
    return f.plain(spec if isinstance(spec, str) else spec.field)


def _attachments(f: ItemFields, api: PortalApi) -> list[dict[str, str]]:
    spec = api.fields.attachments
    if spec is None:
        return []
    urls, names = _many(f, spec.urls, spec.separator), _many(f, spec.names, spec.separator) if spec.names else []
    found = []
    for url, name in zip_longest(urls, names, fillvalue=""):
        if not url:
            continue
        absolute = canonical_url(url, api.site_url, field=spec.urls)
        if absolute is None:  # blank once unescaped and trimmed (" ", "&nbsp;"): no attachment
            continue
        found.append({"name": name or absolute.rsplit("/", 1)[-1] or absolute, "url": absolute, "kind": "attachment"})
    return found


def _many(f: ItemFields, key: str, separator: str) -> list[str]:
    """A multi-valued field: repeated elements (a list) or one text joined by ``separator``."""
    values = f.texts(key)
    if len(values) == 1 and separator:
        values = values[0].split(separator)
    return [v.strip() for v in values]
