"""The policies index: settings and mappings fit for Korean text, and the alias layout.

* Korean analysis: ``nori`` (morphological) when the engine has the plugin, with a CJK-bigram
  sub-field either way (``cjk_width`` + ``lowercase`` + ``cjk_bigram`` from analysis-common),
  so 청년창업 matches 창업 with or without nori.
* ``dynamic: strict``: a document with a field the mapping does not know is refused (a data
  error), never silently widening the index. A changed field means a new index version; a
  purely added one (``ADDED_FIELDS``) is put into existing indexes' mappings in place.
* Layout: versioned indexes ``<alias>-v<N>``; the read alias ``<alias>`` (filtered: removal
  markers are invisible to searches) and the write alias ``<alias>-write`` point at the current
  one, so a rebuild fills ``v<N+1>`` and swaps both aliases in one atomic request.
"""

from __future__ import annotations

from typing import Any

BIGRAM_ANALYZER = {"type": "custom", "tokenizer": "standard", "filter": ["cjk_width", "lowercase", "cjk_bigram"]}
NORI_ANALYZER = {"type": "custom", "tokenizer": "nori_tokenizer",
                 "filter": ["nori_part_of_speech", "nori_readingform", "cjk_width", "lowercase"]}

NOT_REMOVED = {"bool": {"must_not": [{"term": {"removed": True}}]}}


def write_alias(alias: str) -> str:
    return f"{alias}-write"


def versioned_name(alias: str, version: int) -> str:
    return f"{alias}-v{version}"


def version_of(index: str, alias: str) -> int | None:
    prefix = f"{alias}-v"
    tail = index[len(prefix):] if index.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def _korean_text(with_nori: bool, keyword: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "text", "analyzer": "korean" if with_nori else "korean_bigram",
                             "fields": {}}
    if with_nori:
        field["fields"]["bigram"] = {"type": "text", "analyzer": "korean_bigram"}
    if keyword:
        field["fields"]["raw"] = {"type": "keyword", "ignore_above": 512}
    if not field["fields"]:
        del field["fields"]
    return field


ADDED_FIELDS: dict[str, Any] = {"row_digest": {"type": "long"}, "removed_at": {"type": "long"}}
"""Added in place to indexes created before them (``SearchSink.ensure_ready``): an additive change."""


def index_body(*, with_nori: bool, refresh_interval: str, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Settings and mappings of one versioned policies index."""
    analyzers: dict[str, Any] = {"korean_bigram": BIGRAM_ANALYZER}
    if with_nori:
        analyzers["korean"] = NORI_ANALYZER
    text, text_kw = _korean_text(with_nori), _korean_text(with_nori, keyword=True)
    keyword = {"type": "keyword"}
    stored_only = {"type": "keyword", "index": False}
    return {
        "settings": {"number_of_shards": shards, "number_of_replicas": replicas,
                     "refresh_interval": refresh_interval, "analysis": {"analyzer": analyzers}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": {"type": "long"},
                "source_system": keyword,
                "source_id": keyword,
                "title": text_kw,
                "content": text,
                "issuing_organization": text_kw,
                "executing_organization": text_kw,
                "target_regions": keyword,
                "target_group": text,
                "target_industry": text_kw,
                "support_field": keyword,
                "funding_type": keyword,
                "application_start_date": {"type": "date"},
                "application_end_date": {"type": "date"},
                "application_period_text": text,
                "application_always_open": {"type": "boolean"},
                "original_url": stored_only,
                "contact_email": stored_only,
                "contact_phone": stored_only,
                "contact_address": stored_only,
                "status": keyword,
                "quality_score": {"type": "float"},
                "updated_at": {"type": "date"},
                # sync bookkeeping: LSN guard, content hash, removal marker
                "lsn": {"type": "long"},
                "content_hash": keyword,
                **ADDED_FIELDS,
                "removed": {"type": "boolean"},
            },
        },
    }
