from datetime import date, timedelta

from aegis.models.policy import PolicyStatus
from reconciler.promotion import DECISIONS_LISTED, PromotionDecision, PromotionSummary, decide
from reconciler.quality import score_policy
from testkit.policies import AS_OF, good_row

CUTOFF = AS_OF.date() - timedelta(days=7)


def decided(row):
    return decide(row, score_policy(row, AS_OF), threshold=0.7, archive_cutoff=CUTOFF)


def test_a_good_policy_becomes_active():
    status, reason = decided(good_row())
    assert status is PolicyStatus.ACTIVE and "passes the threshold 0.70" in reason


def test_an_invalid_policy_is_rejected_whatever_its_score():
    status, reason = decided(good_row(application_start_date=date(2026, 5, 1), application_end_date=date(2026, 4, 1)))
    assert status is PolicyStatus.REJECTED and reason.startswith("invalid: ")


def test_a_poor_policy_is_rejected_with_its_score():
    status, reason = decided(good_row(original_url=None, target_regions=[], target_group=None, support_field=None,
                                      contact_email=None, contact_phone=None, issuing_organization="미정",
                                      application_start_date=None, application_end_date=None, content="지원"))
    assert status is PolicyStatus.REJECTED and "below the threshold" in reason


def test_a_good_policy_whose_window_closed_beyond_the_grace_is_archived_directly():
    closed = good_row(application_start_date=date(2026, 1, 1), application_end_date=CUTOFF - timedelta(days=1))
    within_grace = good_row(application_start_date=date(2026, 1, 1), application_end_date=CUTOFF)
    assert decided(closed)[0] is PolicyStatus.ARCHIVED
    assert decided(within_grace)[0] is PolicyStatus.ACTIVE
    assert decided(good_row(application_always_open=True, application_end_date=None))[0] is PolicyStatus.ACTIVE


def test_summary_counts_every_decision_but_lists_a_bounded_number():
    summary = PromotionSummary()
    for i in range(DECISIONS_LISTED + 5):
        summary.count(PromotionDecision(policy_id=i, from_status=PolicyStatus.PENDING_VALIDATION,
                                        to_status=PolicyStatus.ACTIVE, total_score=0.9, reason="ok"))
    summary.count(PromotionDecision(policy_id=-1, from_status=PolicyStatus.ACTIVE, to_status=PolicyStatus.ARCHIVED,
                                    total_score=0.5, reason="ended"))
    assert summary.activated == DECISIONS_LISTED + 5 and summary.expired == 1
    assert len(summary.decisions) == DECISIONS_LISTED
