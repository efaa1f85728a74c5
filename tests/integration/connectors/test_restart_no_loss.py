"""Kafka Connect restarted in the middle of 10,000 changes: none lost, duplicates recognisable by LSN.

Two variants: a crash (SIGKILL of the worker's process group, so offsets flushed up to a second
before are all it has: duplicates appear) — run in CI — and a graceful restart (SIGTERM, what
`aegis stack down/up` does), marked `slow` because each Kafka Connect start costs its JVM start.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from changestream_helpers import delete_test_rows

from aegis.changestream.event import Op, decode_change
from aegis.db import connect
from connectors.manage import wait_until_running
from devstack.manager import StackManager
from devstack.process import is_alive
from testkit.streams import isolated_settings, new_tag, running_connector

ROWS = 5_000           # each row is inserted, then updated once: 10,000 changes
BATCH = 100            # rows per transaction
PACE_SECONDS = 0.08    # between transactions: the stream lasts ~8 s, the restart lands inside it
_INSERT = """
INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash, status)
SELECT %(source)s, %(source)s || '-' || n, '정책 ' || n, '내용', '기관', repeat('d', 64), 'active'
  FROM generate_series(%(first)s::int, %(last)s::int) AS n RETURNING id"""


def _write_stream(settings, source: str, ids: list[int], progress: list[int], failure: list[BaseException]) -> None:
    try:
        with connect(settings.postgres, role="owner") as conn:
            batches = []
            for start in range(0, ROWS, BATCH):
                batch = [r[0] for r in conn.execute(_INSERT, {"source": source, "first": start,
                                                              "last": start + BATCH - 1}).fetchall()]
                conn.commit()
                batches.append(batch)
                ids.extend(batch)
                progress[0] += len(batch)
                if len(batches) > 3:  # update the rows inserted a few transactions ago
                    conn.execute("UPDATE policies SET title = title || ' (수정)' WHERE id = ANY(%s)", (batches[-4],))
                    conn.commit()
                    progress[0] += BATCH
                time.sleep(PACE_SECONDS)
            for batch in batches[-3:]:
                conn.execute("UPDATE policies SET title = title || ' (수정)' WHERE id = ANY(%s)", (batch,))
                conn.commit()
                progress[0] += BATCH
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        failure.append(exc)


def _restart_connect(settings, *, crash: bool) -> None:
    # correctness, not start-up speed, is under test: allow a slow JVM start on a busy machine
    patient = settings.stack.model_copy(update={"start_timeout_seconds": 600.0})
    manager = StackManager(settings.model_copy(update={"stack": patient}))
    if crash:
        pid = manager.status(["kafka-connect"])[0].pid
        assert pid is not None, "kafka-connect is not running"
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        manager.down(["kafka-connect"])
    manager.up(["kafka-connect"])


@pytest.mark.parametrize("crash", [
    pytest.param(True, id="crash-restart", marks=pytest.mark.integration),
    pytest.param(False, id="graceful-restart", marks=pytest.mark.slow),  # CI runs the harsher crash variant
])
def test_no_change_is_lost_across_a_kafka_connect_restart(stream_stack, reader_factory, crash):
    settings = isolated_settings(stream_stack, new_tag())
    source = f"cstest-restart-{settings.connector.name}"
    try:
        _stream_through_a_restart(settings, source, reader_factory, crash)
    finally:
        delete_test_rows(settings, source)


def _stream_through_a_restart(settings, source: str, reader_factory, crash: bool) -> None:
    with running_connector(settings):
        ids: list[int] = []
        progress = [0]
        failure: list[BaseException] = []
        writer = threading.Thread(target=_write_stream, args=(settings, source, ids, progress, failure))
        writer.start()
        while progress[0] < 2_000 and writer.is_alive():
            time.sleep(0.02)
        written_before_restart = progress[0]
        _restart_connect(settings, crash=crash)
        written_after_restart = progress[0]
        writer.join(timeout=120)
        assert not failure, failure
        assert progress[0] == 2 * ROWS and written_before_restart < 2 * ROWS  # the restart fell mid-stream
        wait_until_running(settings, timeout=120)

        ours = set(ids)
        topic = f"{settings.kafka.topic_prefix}.public.policies"

        seen: set[tuple[int, str, int]] = set()
        decoded_upto = [0]

        def all_changes_arrived(messages) -> bool:  # decodes each message once
            for m in messages[decoded_upto[0]:]:
                event = decode_change(m.key, m.value)
                if event.policy_id in ours:
                    seen.add((event.policy_id, event.op.value, event.lsn))
            decoded_upto[0] = len(messages)
            return len(seen) >= 2 * ROWS
        messages = reader_factory(settings, topic).read_until(all_changes_arrived, timeout=180)

    events = [e for e in (decode_change(m.key, m.value) for m in messages) if e.policy_id in ours]
    changes = {(e.policy_id, e.op, e.lsn) for e in events}
    duplicates = len(events) - len(changes)
    print(f"\n{'crash' if crash else 'graceful'} restart with {written_before_restart} changes written before and "
          f"{written_after_restart - written_before_restart} during it: {len(events)} messages, "
          f"{len(changes)} distinct changes, {duplicates} duplicates")

    assert len(ours) == ROWS
    per_policy: dict[int, dict[Op, set[int]]] = {}
    for policy_id, op, lsn in changes:
        per_policy.setdefault(policy_id, {}).setdefault(op, set()).add(lsn)
    # nothing lost: every row's insert and its update arrived
    assert set(per_policy) == ours
    # duplicates are recognisable: a redelivered change repeats its (key, LSN) exactly, and distinct
    # changes of one key never share an LSN — so one create and one update LSN per row, update later
    for policy_id, by_op in per_policy.items():
        assert set(by_op) == {Op.CREATE, Op.UPDATE}, (policy_id, by_op)
        (created,), (updated,) = by_op[Op.CREATE], by_op[Op.UPDATE]
        assert updated > created
    assert len(changes) == 2 * ROWS
