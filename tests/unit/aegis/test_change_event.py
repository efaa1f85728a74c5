"""decode_change against real Debezium output (captured from the connector, see data/) and against
every malformed shape we could think of: it returns a ChangeEvent or raises DataError, nothing else."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aegis.errors import DataError, ErrorCode
from aegis.changestream.event import UNAVAILABLE, ChangeEvent, Op, decode_change
from aegis.models.policy import PolicyStatus

CAPTURE = json.loads((Path(__file__).parent / "data" / "debezium_capture.json").read_text(encoding="utf-8"))["messages"]


def _message(name: str) -> tuple[str | None, str | None]:
    return CAPTURE[name]["key"], CAPTURE[name]["value"]


def test_snapshot_rows_decode_as_reads_with_the_snapshot_lsn():
    first = decode_change(*_message("snapshot_read_1"))
    second = decode_change(*_message("snapshot_read_2"))
    assert (first.op, second.op) == (Op.READ, Op.READ)
    assert (first.policy_id, second.policy_id) == (1, 2)
    assert first.lsn == second.lsn and first.lsn > 0  # one snapshot, one LSN
    assert first.after.source_id == "pre0" and first.before is None


def test_insert_decodes_every_column_type_as_debezium_sends_it():
    event = decode_change(*_message("insert_full_row"))
    row = event.after
    assert event.op is Op.CREATE and event.policy_id == row.id == 4
    assert row.application_start_date == date(2024, 1, 15)          # epoch days
    assert row.application_end_date == date(2024, 12, 31)
    assert row.source_updated_at == datetime(2024, 1, 10, 0, 0, tzinfo=timezone.utc)  # ISO string, +09 → UTC
    assert row.target_regions == ["서울", "경기"]                      # TEXT[] → list
    assert row.attachments == [{"name": "공고.pdf", "url": "https://example.go.kr/a.pdf"}]  # JSONB → text → parsed
    assert row.raw_data == {"nested": {"a": [1, 2]}}
    assert row.collection_metadata == {"collector": "bizinfo"}
    assert row.application_always_open is True and row.quality_score == pytest.approx(0.91)
    assert row.content == '사업 내용 "따옴표" 포함'
    assert row.status is PolicyStatus.ACTIVE and not event.is_removal
    assert event.tx_id and event.ts_ms and event.source_ts_ms


def test_update_to_a_non_active_status_is_a_removal_with_a_higher_lsn():
    created = decode_change(*_message("insert_full_row"))
    updated = decode_change(*_message("update_to_rejected"))
    assert updated.op is Op.UPDATE and updated.after.status is PolicyStatus.REJECTED
    assert updated.is_removal
    assert updated.lsn > created.lsn
    assert updated.before is None  # REPLICA IDENTITY DEFAULT: no old row on updates


def test_delete_keeps_no_fake_before_image_and_is_followed_by_a_tombstone():
    raw_before = json.loads(CAPTURE["delete"]["value"])["before"]
    assert raw_before["content_hash"] == "" and raw_before["status"] == "pending_validation"  # Debezium's zero values
    deleted = decode_change(*_message("delete"))
    assert deleted.op is Op.DELETE and deleted.policy_id == 2
    assert deleted.before is None and deleted.after is None and deleted.is_removal
    tombstone = decode_change(*_message("tombstone"))
    assert tombstone == ChangeEvent(policy_id=2, tombstone=True)
    assert tombstone.is_removal and tombstone.lsn is None


def test_lsns_increase_per_key_in_capture_order():
    last: dict[int, int] = {}
    for name in ("snapshot_read_1", "snapshot_read_2", "insert", "update", "delete", "insert_full_row",
                 "update_to_rejected"):
        event = decode_change(*_message(name))
        assert event.lsn > last.get(event.policy_id, -1)
        last[event.policy_id] = event.lsn


def test_full_before_image_is_kept_when_the_table_sends_one():
    value = json.loads(CAPTURE["update_to_rejected"]["value"])
    value["before"] = json.loads(CAPTURE["insert_full_row"]["value"])["after"]
    event = decode_change(CAPTURE["update_to_rejected"]["key"], json.dumps(value))
    assert event.before is not None and event.before.status is PolicyStatus.ACTIVE


def test_schema_wrapped_messages_decode_too():
    key, value = _message("insert")
    wrapped_key = json.dumps({"schema": {"type": "struct"}, "payload": json.loads(key)})
    wrapped_value = json.dumps({"schema": {"type": "struct"}, "payload": json.loads(value)})
    assert decode_change(wrapped_key.encode(), wrapped_value.encode()) == decode_change(key, value)


@pytest.mark.parametrize("key, value, fragment", [
    (None, None, "no integer id"),
    (b"not json", None, "key is not JSON"),
    (b'{"id": "5"}', None, "no integer id"),
    (b'{"id": true}', None, "no integer id"),
    (b'[1]', None, "no integer id"),
    (b'{"id": 5}', b"\xff\xfe", "value is not JSON"),
    (b'{"id": 5}', b'"a string"', "no known op"),
    (b'{"id": 5}', b'{"op": "t"}', "no known op"),         # truncate: skipped by the connector
    (b'{"id": 5}', b'{"op": ["c"]}', "no known op"),
    (b'{"id": 5}', b'{"op": "c", "after": null}', "no `after` row"),
    (b'{"id": 5}', b'{"op": "c", "after": {"id": 5}}', "does not match"),
    (b'{"id": 5}', b'{"op": "c", "after": []}', "does not match"),
    (b'{"id": 5}', b'{"op": "d", "after": {"id": 5}}', "carries an `after` row"),
    (b'{"id": 5}', b'{"op": "u", "after": {}, "source": "x"}', "does not match"),
])
def test_unknown_shapes_are_data_errors(key, value, fragment):
    with pytest.raises(DataError) as caught:
        decode_change(key, value)
    assert caught.value.code is ErrorCode.CHANGE_EVENT_UNDECODABLE
    assert fragment in caught.value.message


def test_key_and_row_ids_must_agree():
    _, value = _message("insert")
    with pytest.raises(DataError, match="differs"):
        decode_change(b'{"id": 999}', value)


@pytest.mark.parametrize("column,placeholder", [
    ("content", UNAVAILABLE),                                    # TEXT
    ("attachments", f'{{"{UNAVAILABLE}":"{UNAVAILABLE}"}}'),     # JSONB, as the JSON converter sends it
    ("target_regions", [UNAVAILABLE]),                           # TEXT[]: Debezium never re-selects arrays
])
def test_a_column_debezium_could_not_reselect_is_a_data_error_never_written(column, placeholder):
    """REPLICA IDENTITY DEFAULT: an update leaving a TOASTed column unchanged streams the placeholder
    unless the connector re-read it; the event is dead-lettered, the placeholder never reaches a target."""
    key, value = _message("insert_full_row")
    doc = json.loads(value)
    doc["op"], doc["after"][column] = "u", placeholder
    for value in (json.dumps(doc), json.dumps(doc).encode()):  # as text, and as the consumer's bytes
        with pytest.raises(DataError) as caught:
            decode_change(key, value)
        assert caught.value.code is ErrorCode.CHANGE_EVENT_UNDECODABLE
        assert column in caught.value.message and caught.value.hint


_TEXT_COLUMNS = ("source_system", "source_id", "title", "content", "issuing_organization", "executing_organization",
                 "target_group", "target_industry", "support_field", "funding_type", "application_period_text",
                 "original_url", "contact_email", "contact_phone", "contact_address")


@settings(max_examples=200, deadline=None)
@given(columns=st.sets(st.sampled_from(_TEXT_COLUMNS), min_size=1, max_size=4),
       neighbour=st.text(max_size=200), as_bytes=st.booleans())
def test_any_column_left_as_the_placeholder_is_named_and_never_decoded(columns, neighbour, as_bytes):
    key, value = _message("insert_full_row")
    doc = json.loads(value)
    doc["op"] = "u"
    doc["after"]["application_period_text"] = neighbour  # any text beside it, the placeholder's words included
    for column in columns:
        doc["after"][column] = UNAVAILABLE
    encoded = json.dumps(doc, ensure_ascii=False)
    with pytest.raises(DataError) as caught:
        decode_change(key, encoded.encode() if as_bytes else encoded)
    assert all(column in caught.value.message for column in columns)


def test_text_that_only_mentions_the_placeholder_is_a_value():
    key, value = _message("insert_full_row")
    doc = json.loads(value)
    doc["after"]["content"] = f"본문에 {UNAVAILABLE} 이라는 글자가 있다"
    assert decode_change(key, json.dumps(doc)).after.content == doc["after"]["content"]


@pytest.mark.parametrize("column, bad", [("application_start_date", 10**12), ("updated_at", 10**30),
                                         ("raw_data", "{not json"), ("title", ["x"])])
def test_a_bad_column_is_a_data_error_when_the_row_is_read_never_a_crash(column, bad):
    key, value = _message("insert_full_row")
    doc = json.loads(value)
    doc["after"][column] = bad
    event = decode_change(key, json.dumps(doc))  # id, status and content hash are the ones checked here
    assert event.status is PolicyStatus.ACTIVE and column in event.after_image
    with pytest.raises(DataError) as caught:
        event.after
    assert caught.value.code is ErrorCode.CHANGE_EVENT_UNDECODABLE and column in caught.value.message


@pytest.mark.parametrize("column, bad, fragment", [("status", "deleted", "status: Input should be"),
                                                   ("status", None, "status: Field required"),
                                                   ("content_hash", 7, "content_hash: Input should be"),
                                                   ("id", "7", "id: not an integer")])
def test_the_columns_every_reader_needs_are_checked_at_decoding(column, bad, fragment):
    key, value = _message("insert_full_row")
    doc = json.loads(value)
    doc["after"][column] = bad
    with pytest.raises(DataError) as caught:
        decode_change(key, json.dumps(doc))
    assert fragment in caught.value.message


def _mutations(document, rng: random.Random):
    """Yield copies of ``document`` with one value somewhere replaced by an odd one."""
    odd = [None, "", "x", 0, -1, 2**70, 1.5, True, [], {}, [None], {"a": None}, "2024-99-99"]
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + [i])
    walk(document, [])
    for _ in range(400):
        copy = json.loads(json.dumps(document))
        path = rng.choice(paths)
        if not path:
            yield rng.choice(odd)
            continue
        parent = copy
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = rng.choice(odd)
        yield copy


@pytest.mark.parametrize("name", ["insert_full_row", "update", "delete", "snapshot_read_1"])
def test_fuzzed_real_messages_never_raise_anything_but_data_error(name):
    rng = random.Random(f"aegis-{name}")  # deterministic
    key, value = _message(name)
    outcomes = {"decoded": 0, "refused": 0}
    for mutated in _mutations(json.loads(value), rng):
        try:
            decode_change(key, json.dumps(mutated)).after  # the row too: validated when first read
            outcomes["decoded"] += 1
        except DataError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and outcomes["decoded"] > 0
