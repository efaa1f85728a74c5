"""Row changes of `policies` through the real connector: snapshot reads, c/u/d, tombstones, LSN order."""

from __future__ import annotations

import json

import pytest
from changestream_helpers import delete_test_rows

from aegis.changestream.event import Op, decode_change
from aegis.db import connect
from aegis.errors import DataError, ErrorCode
from aegis.models.policy import PolicyStatus
from connectors.manage import wait_until_state
from connectors.rest import ConnectClient
from testkit.policies import incompressible_hangul, insert_policy, minimal_policy
from testkit.streams import isolated_settings, new_tag, running_connector

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stream(stream_stack):
    tag = new_tag()
    settings = isolated_settings(stream_stack, tag, snapshot_mode="initial")
    source = f"cstest-{tag}"
    # snapshot only this module's rows, however many other suites left in the table
    only_ours = {"snapshot.select.statement.overrides": "public.policies",
                 "snapshot.select.statement.overrides.public.policies":
                     f"SELECT * FROM public.policies WHERE source_system = '{source}'"}
    pre_ids: list[int] = []

    def rows_before_the_connector() -> None:
        with connect(settings.postgres, role="owner") as conn:
            pre_ids.extend(insert_policy(conn, minimal_policy(source, f"pre-{i}")) for i in range(3))
            conn.commit()

    try:
        with running_connector(settings, before_start=rows_before_the_connector, overrides=only_ours) as running:
            yield running, source, pre_ids
    finally:
        delete_test_rows(settings, source)


def test_existing_rows_arrive_as_snapshot_reads_then_changes_as_c_u_d_with_tombstones(stream, reader_factory):
    settings, source, pre_ids = stream
    with connect(settings.postgres, role="owner") as conn:
        new_id = insert_policy(conn, minimal_policy(source, "new"))
        conn.commit()
        conn.execute("UPDATE policies SET status = 'rejected', title = '바뀐 제목' WHERE id = %s", (new_id,))
        conn.commit()
        conn.execute("UPDATE policies SET title = '두 번째' WHERE id = %s", (pre_ids[0],))
        conn.execute("DELETE FROM policies WHERE id = %s", (pre_ids[1],))
        conn.commit()
        conn.execute("DELETE FROM policies WHERE id = %s", (new_id,))
        conn.commit()
    ours = set(pre_ids) | {new_id}
    topic = f"{settings.kafka.topic_prefix}.public.policies"
    expected_messages = 3 + 1 + 1 + 1 + 2 + 2  # r×3, c, u, u, (d + tombstone)×2

    def mine(messages):
        return [m for m in messages if m.json_key() and m.json_key()["id"] in ours]
    messages = mine(reader_factory(settings, topic).read_until(lambda ms: len(mine(ms)) >= expected_messages, 60))
    events = [decode_change(m.key, m.value) for m in messages]
    by_id: dict[int, list] = {}
    for event in events:
        by_id.setdefault(event.policy_id, []).append(event)

    # rows that existed before the connector started: snapshot reads, all with one LSN
    assert [e.op for e in by_id[pre_ids[2]]] == [Op.READ]
    snapshot_lsns = {by_id[i][0].lsn for i in pre_ids}
    assert len(snapshot_lsns) == 1 and all(by_id[i][0].op is Op.READ for i in pre_ids)

    # pre row 0: read, then update
    assert [e.op for e in by_id[pre_ids[0]]] == [Op.READ, Op.UPDATE]
    assert by_id[pre_ids[0]][1].after.title == "두 번째"

    # pre row 1: read, delete, tombstone
    assert [e.op for e in by_id[pre_ids[1]]] == [Op.READ, Op.DELETE, None]
    assert by_id[pre_ids[1]][2].tombstone and by_id[pre_ids[1]][1].is_removal

    # the new row: create, update (rejected → a removal for the targets), delete, tombstone
    new_events = by_id[new_id]
    assert [e.op for e in new_events] == [Op.CREATE, Op.UPDATE, Op.DELETE, None]
    assert new_events[0].after.status is PolicyStatus.ACTIVE and not new_events[0].is_removal
    assert new_events[1].after.status is PolicyStatus.REJECTED and new_events[1].is_removal
    assert new_events[3].tombstone

    # keys are the primary key, LSNs strictly increase per key (tombstones carry none)
    for m, event in zip(messages, events):
        assert m.json_key() == {"id": event.policy_id}
    for policy_id, stream_of_events in by_id.items():
        lsns = [e.lsn for e in stream_of_events if not e.tombstone]
        assert lsns == sorted(lsns) and len(set(lsns)) == len(lsns), (policy_id, lsns)
    assert len(messages) == expected_messages  # nothing extra, nothing missing


def _stored_bytes(conn, policy_id: int) -> int:
    return conn.execute("SELECT pg_column_size(content) FROM policies WHERE id = %s", (policy_id,)).fetchone()[0]


def test_no_event_carries_the_old_row_yet_every_update_carries_the_whole_new_one(stream, reader_factory):
    """The before image stays in PostgreSQL: the table logs only the key (REPLICA IDENTITY DEFAULT) and
    the connector's ``dropBefore`` transform drops what is left. ``after`` is still the whole row: a long
    content left out of the WAL by an update that did not touch it is re-read by the connector."""
    settings, source, _ = stream
    long_content = incompressible_hangul(3000, seed=1)  # ~9 KB stored: out of line (TOASTed)
    with connect(settings.postgres, role="owner") as conn:
        policy_id = insert_policy(conn, {**minimal_policy(source, "old-row"), "title": "옛 제목 before-only",
                                         "content": long_content})
        conn.commit()
        assert _stored_bytes(conn, policy_id) > 8000  # not compressed inline: the update's WAL lacks it
        conn.execute("UPDATE policies SET title = '새 제목' WHERE id = %s", (policy_id,))
        conn.commit()
        conn.execute("UPDATE policies SET status = 'rejected' WHERE id = %s", (policy_id,))  # a demotion
        conn.commit()
    topic = f"{settings.kafka.topic_prefix}.public.policies"

    def mine(messages):
        return [m for m in messages if m.json_key() and m.json_key()["id"] == policy_id]
    reader = reader_factory(settings, topic)
    reader.read_until(lambda ms: len(mine(ms)) >= 3, 60)  # delete only once the connector has read both updates
    with connect(settings.postgres, role="owner") as conn:
        conn.execute("DELETE FROM policies WHERE id = %s", (policy_id,))
        conn.commit()
    messages = mine(reader.read_until(lambda ms: len(mine(ms)) >= 5, 60))
    assert [decode_change(m.key, m.value).op for m in messages] == [Op.CREATE, Op.UPDATE, Op.UPDATE, Op.DELETE,
                                                                    None]
    for m in messages[:4]:
        assert "before" not in json.loads(m.value), m.value[:200]
    assert not any(b"before-only" in m.value for m in messages[1:4])
    retitled, demoted = (decode_change(m.key, m.value) for m in messages[1:3])
    assert retitled.after.title == "새 제목" and retitled.after.content == long_content
    assert demoted.after.status is PolicyStatus.REJECTED and demoted.after.content == long_content


def test_a_long_content_gone_before_the_connector_reads_its_update_is_a_data_error_not_a_placeholder(
        stream, reader_factory):
    """The connector re-reads an unchanged TOASTed column from the table; when the row was deleted before
    it looked, the event keeps Debezium's placeholder, and decoding it is a DataError (the sinks dead-letter
    that one event, the delete after it removes the policy): the placeholder is never taken for content."""
    settings, source, _ = stream
    with connect(settings.postgres, role="owner") as conn:
        policy_id = insert_policy(conn, {**minimal_policy(source, "gone"), "content": incompressible_hangul(
            3000, seed=2)})
        conn.commit()
    topic = f"{settings.kafka.topic_prefix}.public.policies"

    def mine(messages):
        return [m for m in messages if m.json_key() and m.json_key()["id"] == policy_id]
    reader = reader_factory(settings, topic)
    reader.read_until(lambda ms: len(mine(ms)) >= 1, 60)
    with ConnectClient(settings.kafka.connect_url) as client:  # stopped, the task reads nothing more
        client.stop(settings.connector.name)
        wait_until_state(settings, "STOPPED", connector_only=True, timeout=120)
        try:
            with connect(settings.postgres, role="owner") as conn:
                conn.execute("UPDATE policies SET status = 'rejected' WHERE id = %s", (policy_id,))
                conn.commit()
                conn.execute("DELETE FROM policies WHERE id = %s", (policy_id,))
                conn.commit()
        finally:
            client.resume(settings.connector.name)
    messages = mine(reader.read_until(lambda ms: len(mine(ms)) >= 4, 120))
    assert [json.loads(m.value)["op"] if m.value else None for m in messages] == ["c", "u", "d", None]
    with pytest.raises(DataError) as caught:
        decode_change(messages[1].key, messages[1].value)
    assert caught.value.code is ErrorCode.CHANGE_EVENT_UNDECODABLE and "content" in caught.value.message
    assert decode_change(messages[2].key, messages[2].value).op is Op.DELETE