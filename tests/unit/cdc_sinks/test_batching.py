import json

import pytest

from cdc_sinks.base import FINAL_LSN, PolicyDocument, Removal, SinkRecord
from cdc_sinks.batching import plan_batch
from testkit.envelopes import envelope, message


def test_active_row_becomes_an_upsert_with_its_lsn_hash_and_masked_document():
    plan = plan_batch([message(7, 100, op="c")])
    change = plan.changes[7]
    assert isinstance(change.action, SinkRecord)
    assert (change.action.lsn, change.action.content_hash) == (100, f"{100:064x}")
    assert change.action.document.contact_email != plan.changes[7].event.after.contact_email
    assert not plan.rejected


def test_non_active_status_is_a_removal_at_the_event_lsn():
    for status in ("rejected", "pending_validation", "archived"):
        action = plan_batch([message(7, 120, status=status)]).changes[7].action
        assert action == Removal(policy_id=7, lsn=120)


def test_delete_and_tombstone_are_final_removals():
    assert plan_batch([message(7, 130, op="d")]).changes[7].action == Removal(7, FINAL_LSN)
    assert plan_batch([message(7, tombstone=True)]).changes[7].action == Removal(7, FINAL_LSN)


def test_coalesces_per_key_keeping_the_highest_lsn_even_out_of_order():
    plan = plan_batch([message(1, 300, title="new"), message(1, 200, title="old"), message(2, 50),
                       message(1, 250, status="rejected")])
    assert plan.changes[1].lsn == 300 and plan.changes[1].action.document.title == "new"
    assert plan.changes[2].lsn == 50
    assert plan.superseded == 2
    assert [c.policy_id for c in plan.upserts] == [1, 2] and plan.removals == []


def test_delete_then_tombstone_then_replayed_create_stays_removed():
    plan = plan_batch([message(3, 10, op="c"), message(3, 20, op="d"), message(3, tombstone=True), message(3, 10, op="c")])
    assert plan.changes[3].action == Removal(3, FINAL_LSN)


def test_equal_lsn_keeps_the_later_message():
    first, second = message(4, 40, title="a"), message(4, 40, title="b")
    assert plan_batch([first, second]).changes[4].message == second


def test_undecodable_messages_are_rejected_and_the_rest_planned():
    bad_json = message(5, value=b"{not json")
    no_op = message(6, value=b'{"before": null, "after": null}')
    bad_key = message(0, 1, key=b'{"name": "x"}')
    plan = plan_batch([bad_json, message(8, 80), no_op, bad_key])
    assert [r.message for r in plan.rejected] == [bad_json, no_op, bad_key]
    assert all(r.error.code.value == "DP_3006" for r in plan.rejected)
    assert list(plan.changes) == [8]


def test_event_without_lsn_is_rejected():
    doc = envelope(9, 1)
    doc["source"]["lsn"] = None
    plan = plan_batch([message(9, value=json.dumps(doc).encode())])
    assert plan.changes == {} and "LSN" in plan.rejected[0].error.message


@pytest.mark.parametrize("column, bad", [("application_start_date", 10**12), ("updated_at", 10**30),
                                         ("title", ["x"]), ("target_regions", "서울")])
def test_a_row_whose_document_cannot_be_built_is_rejected_alone(column, bad):
    doc = envelope(3, 30)
    doc["after"][column] = bad
    broken = message(3, value=json.dumps(doc).encode())
    plan = plan_batch([broken, message(8, 80)])
    assert [r.message for r in plan.rejected] == [broken] and list(plan.changes) == [8]
    assert plan.rejected[0].error.code.value == "DP_3006" and column in plan.rejected[0].error.message


def test_a_column_no_target_receives_does_not_hold_the_policy_back():
    doc = envelope(3, 30)
    doc["after"]["raw_data"], doc["after"]["attachments"] = "{not json", 5
    plan = plan_batch([message(3, value=json.dumps(doc).encode())])
    assert isinstance(plan.changes[3].action, SinkRecord) and not plan.rejected


def test_contact_fields_are_masked_however_the_document_is_built():
    doc = envelope(3, 30)
    doc["after"].update(contact_email="hong.gildong@example.com", contact_phone="010-1234-5678")
    document = plan_batch([message(3, value=json.dumps(doc).encode())]).changes[3].action.document
    assert "hong.gildong" not in document.contact_email and "1234-5678" not in document.contact_phone
    assert PolicyDocument.model_validate(document.__dict__) == document  # idempotent
