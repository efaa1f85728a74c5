"""The PII corpus and the leak search of the pipeline check (bench/privacy)."""

from __future__ import annotations

from collections import Counter

from aegis.privacy import mask_text
from bench.privacy.corpus import generate
from bench.privacy.pipeline_check import needle_index, search_dump


def test_corpus_plants_every_kind_in_every_text_field():
    records, planted = generate(500, seed=7)
    assert len(records) == 500 and len({r.source_id for r in records}) == 500
    fields = {p.field for p in planted if p.personal}
    assert fields >= {"title", "content", "issuing_organization", "executing_organization", "target_group",
                      "target_industry", "support_field", "funding_type", "application_period_text", "original_url",
                      "contact_phone", "contact_email", "contact_address", "attachments", "target_regions"}
    kinds = Counter(p.kind for p in planted)
    assert all(kinds[k] > 50 for k in ("rrn", "rrn-post2020", "frn", "frn-post2020", "mobile", "voip", "home-phone",
                                       "email", "account", "card"))
    assert all(kinds[k] > 50 for k in ("date", "amount", "policy-code", "brn", "corp-reg", "official-phone"))


def test_leak_search_finds_every_planted_value_unmasked_and_none_masked():
    records, planted = generate(200, seed=11)
    numbers, emails = needle_index(planted)
    raw = "\n".join(r.model_dump_json() for r in records)
    assert search_dump(raw, numbers, emails) == {p.text for p in planted if p.personal}
    assert search_dump(mask_text(raw), numbers, emails) == set()
