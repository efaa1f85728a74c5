from datetime import date, timedelta

import pytest

from reconciler.quality import WEIGHTS, Dimension, explain, score_policy
from reconciler.reference import is_known_organisation
from testkit.policies import AS_OF, good_row


def rules(score, dim=None):
    return {d.rule for d in score.deductions if dim is None or d.dimension is dim}


def test_a_complete_accurate_fresh_policy_scores_full_marks():
    score = score_policy(good_row(), AS_OF)
    assert score.deductions == []
    assert score.total_score == 1.0
    assert score.validation.is_valid


def test_total_is_the_weighted_sum_of_the_dimensions():
    score = score_policy(good_row(original_url=None, target_regions=["화성"], application_end_date=date(2026, 3, 1),
                                  application_start_date=date(2026, 2, 1)), AS_OF)
    expected = sum(WEIGHTS[d] * score.dimension(d) for d in Dimension)
    assert score.total_score == pytest.approx(expected, abs=1e-4)
    assert score.completeness == pytest.approx(0.85)
    assert score.accuracy == pytest.approx(0.80)
    assert score.timeliness == pytest.approx(0.80)


def test_missing_useful_fields_lower_completeness_with_one_reason_each():
    score = score_policy(good_row(original_url=None, target_regions=[], target_group=None, support_field=None,
                                  contact_email=None, contact_phone=None, application_start_date=None,
                                  application_end_date=None), AS_OF)
    assert rules(score, Dimension.COMPLETENESS) == {
        "url_missing", "regions_missing", "target_group_missing", "support_field_missing",
        "contact_missing", "period_missing"}
    assert score.completeness == pytest.approx(0.30)
    assert rules(score, Dimension.TIMELINESS) == {"window_unknown"}


def test_short_content_is_a_partial_completeness_deduction():
    score = score_policy(good_row(content="창업 지원"), AS_OF)
    assert rules(score) == {"content_short"}


@pytest.mark.parametrize("field,value,rule", [
    ("original_url", "javascript:void(0)", "url_invalid"),
    ("original_url", "www.bizinfo.go.kr/view", "url_invalid"),
    ("application_end_date", date(2099, 1, 1), "date_implausible"),
    ("issuing_organization", "-", "organisation_unknown"),
    ("issuing_organization", "홍길동", "organisation_unknown"),
    ("target_regions", ["서울특별시", "Gotham"], "region_unknown"),
    ("contact_email", "help(at)kised", "email_invalid"),
    ("contact_phone", "문의 바람", "phone_invalid"),
    ("title", "기술개발(R&amp;D) 지원", "title_markup"),
])
def test_accuracy_rules(field, value, rule):
    score = score_policy(good_row(**{field: value}), AS_OF)
    assert rule in rules(score, Dimension.ACCURACY)
    assert score.accuracy < 1.0


def test_free_text_period_is_accepted_when_it_is_a_known_open_ended_phrase():
    known = score_policy(good_row(application_start_date=None, application_end_date=None,
                                  application_period_text="예산 소진시까지"), AS_OF)
    unknown = score_policy(good_row(application_start_date=None, application_end_date=None,
                                    application_period_text="담당자에게 문의"), AS_OF)
    assert rules(known) == set()
    assert rules(unknown) == {"period_unparseable"}


@pytest.mark.parametrize("name", ["중소벤처기업부", "창업진흥원", "서울특별시", "강남구", "(재)서울경제진흥원",
                                  "한국산업기술진흥원", "국무조정실", "Ministry of SMEs and Startups"])
def test_public_bodies_are_recognised(name):
    assert is_known_organisation(name)


def test_reversed_period_is_inconsistent_and_invalid():
    score = score_policy(good_row(application_start_date=date(2026, 5, 1), application_end_date=date(2026, 4, 1)),
                         AS_OF)
    assert "period_reversed" in rules(score, Dimension.CONSISTENCY)
    assert not score.validation.is_valid
    assert "application_end_date is before application_start_date" in score.validation.errors


@pytest.mark.parametrize("overrides,rule", [
    (dict(target_regions=["전국", "부산광역시"]), "regions_contradictory"),
    (dict(application_always_open=True), "always_open_with_deadline"),
    (dict(title="[서울] 청년 창업 지원", target_regions=["부산광역시"]), "title_region_mismatch"),
    (dict(application_period_text="2026.03.02 ~ 2026.05.31"), "period_text_mismatch"),
    (dict(source_updated_at=AS_OF + timedelta(days=3)), "updated_in_future"),
])
def test_consistency_rules(overrides, rule):
    score = score_policy(good_row(**overrides), AS_OF)
    assert rules(score, Dimension.CONSISTENCY) == {rule}


def test_title_region_matching_the_target_regions_is_consistent():
    score = score_policy(good_row(title="[서울] 청년 창업 지원", target_regions=["서울특별시"]), AS_OF)
    assert rules(score) == set()


def test_timeliness_decays_with_age_and_a_long_closed_window():
    fresh = score_policy(good_row(), AS_OF)
    old = score_policy(good_row(source_updated_at=AS_OF - timedelta(days=400)), AS_OF)
    closed = score_policy(good_row(application_start_date=date(2025, 1, 1), application_end_date=date(2025, 6, 30)),
                          AS_OF)
    assert fresh.timeliness == 1.0
    assert old.timeliness == pytest.approx(0.6)
    assert rules(closed, Dimension.TIMELINESS) == {"window_long_closed"}
    assert closed.timeliness == pytest.approx(0.4)


def test_an_always_open_programme_never_closes():
    score = score_policy(good_row(application_start_date=None, application_end_date=None,
                                  application_always_open=True), AS_OF)
    assert score.timeliness == 1.0


def test_a_poor_record_falls_below_the_threshold():
    poor = good_row(content="지원", original_url="not a url", issuing_organization="없음", target_regions=[],
                    target_group=None, support_field=None, contact_email=None, contact_phone=None,
                    application_start_date=None, application_end_date=None,
                    source_updated_at=AS_OF - timedelta(days=800))
    score = score_policy(poor, AS_OF)
    assert score.total_score < 0.7
    assert score.validation.is_valid  # poor is not invalid: it is rejected by score


def test_scores_are_deterministic_and_naive_times_are_utc():
    naive = AS_OF.replace(tzinfo=None)
    assert score_policy(good_row(), naive) == score_policy(good_row(), AS_OF)


def test_explain_shows_each_deduction_and_the_verdict():
    score = score_policy(good_row(original_url=None), AS_OF)
    text = "\n".join(explain(score, threshold=0.7))
    assert "url_missing: no original URL" in text
    assert "-0.15  url_missing" in text
    assert "passes the threshold 0.70" in text
    assert "aegis-quality/1" in text


def test_explain_marks_invalid_records():
    score = score_policy(good_row(application_start_date=date(2026, 5, 1), application_end_date=date(2026, 4, 1)),
                         AS_OF)
    assert any(line.startswith("invalid: ") for line in explain(score, threshold=0.7))
