from datetime import date

import pytest

from reconciler.duplicates import choose_canonical, explain_match, match, title_key, title_similarity
from testkit.policies import good_row


def bizinfo(**overrides):
    return good_row(**{"id": 10, "source_system": "bizinfo", "source_id": "PBLN_1", **overrides})


def kstartup(**overrides):
    values = dict(id=20, source_system="kstartup", source_id="174512", title="[재공고] 2026년 청년창업 사업화 지원사업 공고",
                  issuing_organization="창업진흥원", executing_organization=None)
    values.update(overrides)
    return good_row(**values)


def test_title_key_drops_tags_spacing_punctuation_and_width():
    assert title_key("[서울] ２０２６년 청년 창업 (재공고) R&D·지원!") == "2026년청년창업rd지원"


def test_similarity_is_one_for_equal_keys_and_lower_for_different_titles():
    assert title_similarity("청년 창업 지원", "[재공고] 청년창업지원") == 1.0
    assert title_similarity("청년 창업 지원사업", "노인 일자리 지원사업") < 0.6
    assert title_similarity("", "청년") == 0.0


def test_the_same_programme_on_two_portals_matches():
    similarity = match(bizinfo(), kstartup(), min_similarity=0.8)
    assert similarity is not None and similarity >= 0.8


@pytest.mark.parametrize("other,why", [
    (kstartup(source_system="bizinfo"), "same source"),
    (kstartup(application_end_date=date(2026, 5, 31)), "different end date"),
    (kstartup(application_start_date=date(2026, 2, 1)), "different start date"),
    (kstartup(issuing_organization="고용노동부"), "no shared organisation"),
    (kstartup(title="2026년 농촌 청년 정착 지원사업"), "different title"),
])
def test_near_misses_do_not_match(other, why):
    assert match(bizinfo(), other, min_similarity=0.8) is None, why


def test_a_missing_start_date_on_one_side_still_matches():
    assert match(bizinfo(), kstartup(application_start_date=None), min_similarity=0.8) is not None


def test_undated_policies_match_only_on_equal_title_keys():
    a = bizinfo(application_start_date=None, application_end_date=None, application_period_text="상시")
    b = kstartup(application_start_date=None, application_end_date=None, title="2026년 청년 창업 사업화 지원사업 공고")
    c = kstartup(application_start_date=None, application_end_date=None)  # "[재공고]" dropped, "청년창업" spacing
    d = kstartup(application_start_date=None, application_end_date=None, title="2026년 청년 창업 사업화 지원")
    assert match(a, b, min_similarity=0.8) == 1.0
    assert match(a, c, min_similarity=0.8) == 1.0
    assert match(a, d, min_similarity=0.8) is None


def test_organisation_names_match_across_legal_form_prefixes():
    a = bizinfo(issuing_organization="(재)서울경제진흥원", executing_organization=None)
    b = kstartup(issuing_organization="서울경제진흥원")
    assert match(a, b, min_similarity=0.8) is not None


def test_canonical_is_the_best_scored_then_the_most_complete_then_the_oldest():
    a, b = bizinfo(quality_score=0.8), kstartup(quality_score=0.9)
    assert choose_canonical([a, b]).id == b.id
    a, b = bizinfo(quality_score=0.9), kstartup(quality_score=0.9, target_group=None)
    assert choose_canonical([a, b]).id == a.id
    a, b = bizinfo(quality_score=0.9, id=30), bizinfo(quality_score=0.9, id=31)
    assert choose_canonical([b, a]).id == 30


def test_the_explanation_names_both_records_and_the_evidence():
    text = explain_match(kstartup(), bizinfo(quality_score=0.95), 0.86)
    assert "kstartup:174512 is bizinfo:PBLN_1 again" in text
    assert "title similarity 0.86" in text and "창업진흥원" in text and "kept #10" in text
