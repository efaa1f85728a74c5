"""Sink conformance: each test runs once per registered sink (see conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from click.testing import CliRunner

from cdc_sinks.dlq import read_dead_letters
from devstack.manager import StackManager
from testkit.envelopes import poison_messages

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = float(os.environ.get("AEGIS_CONFORMANCE_OUTAGE_SECONDS", "30"))
KILL_LOAD = int(os.environ.get("AEGIS_CONFORMANCE_LOAD", "1500"))


def assert_converged(sut, writer, timeout: float = 60.0):
    verdict = sut.wait_converged(writer, timeout)
    assert verdict.converged, f"{sut.name} is not PostgreSQL's active view after {timeout:.0f}s: {verdict.diff()}"
    return verdict


def test_create_update_delete_and_tombstone(sut, writer):
    sut.start()
    a, b, c = writer.create(), writer.create(), writer.create()
    pending = writer.create(status="pending_validation")
    writer.update(a)
    writer.update(a)
    writer.delete(b)  # a delete event and its tombstone
    verdict = assert_converged(sut, writer)
    assert set(verdict.stored) == {a, c} and pending not in verdict.stored


def test_members_setting_up_a_fresh_namespace_together_all_get_ready(sut, writer):
    """``SINKS_MEMBERS`` processes of one sink start together on a first deployment: each prepares
    the target (``ensure_ready``) at the same moment, and none may fail on what another created.
    A transient refusal (Neo4j's schema locks deadlock between the members) is tried again, as the
    runtime does at start; anything else would stop the member for good."""
    from aegis.retry import RetryPolicy, retry_call
    from cdc_sinks.registry import build_sink

    members = [build_sink(sut.name, sut.settings) for _ in range(3)]
    start, errors = threading.Barrier(len(members)), []

    def set_up(member) -> None:
        start.wait()
        try:
            retry_call(member.ensure_ready, RetryPolicy(attempts=5, base_delay=0.5, max_delay=3.0),
                       what=f"{sut.name} set-up")
        except Exception as exc:  # noqa: BLE001 - collected and reported with the member's error
            errors.append(exc)

    threads = [threading.Thread(target=set_up, args=(m,)) for m in members]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
    finally:
        for m in members:
            m.close()
    assert not errors, f"{sut.name}: {errors}"
    sut.start()  # and the namespace they made is one the sink writes to
    a = writer.create()
    assert set(assert_converged(sut, writer).stored) == {a}


def test_offsets_are_committed_once_per_interval_after_the_writes_and_all_of_them_at_stop(sut, writer):
    sut.settings = sut.settings.model_copy(update={
        "sinks": sut.settings.sinks.model_copy(update={"commit_interval_ms": 600_000, "batch_size": 5}),
        "milvus": sut.settings.milvus.model_copy(update={"batch_size": 5})})
    runtime = sut.start()
    for _ in range(30):
        writer.create()
    assert_converged(sut, writer)
    ends = sut.topic.end_offsets()
    written = sum(ends.values()) - sum(sut.start_offsets.values())
    # the first batch's offsets were committed (nothing committed yet: due at once), none since
    assert runtime.stats.batches > 1 and runtime.stats.commits == 1, runtime.stats
    committed = sut.topic.committed(sut.group)
    assert 0 < sum(max(o, 0) for o in committed.values()) - sum(sut.start_offsets.values()) < written
    sut.stop()  # closing the consumer revokes its partitions: what was written is committed
    assert sut.topic.committed(sut.group) == ends and runtime.stats.commits == 2, (ends, runtime.stats)


def test_status_change_active_to_rejected_and_back(sut, writer):
    sut.start()
    policy = writer.create()
    first = assert_converged(sut, writer).stored[policy]
    writer.set_status(policy, "rejected")
    assert policy not in assert_converged(sut, writer).stored
    writer.set_status(policy, "active")
    back = assert_converged(sut, writer).stored[policy]
    assert back[0] > first[0], "re-activation must carry the newer LSN"


def test_duplicate_delivery_and_out_of_order_replay_change_nothing(sut, writer):
    sut.start()
    kept, updated, deleted, rejected = (writer.create() for _ in range(4))
    writer.update(updated)
    writer.delete(deleted)
    writer.set_status(rejected, "rejected")
    before = assert_converged(sut, writer).stored
    history = [(m.key(), m.value()) for m in sut.topic.read(sut.start_offsets)]
    assert len(history) >= 8
    # every event again, newest first (older versions arrive after newer ones), then duplicates
    sut.topic.produce(list(reversed(history)) + history[:4])
    sut.wait_caught_up()
    after = assert_converged(sut, writer, timeout=10).stored
    assert after == before and deleted not in after and rejected not in after


def test_poison_record_is_dead_lettered_and_its_neighbours_applied(sut, writer):
    sut.start()
    first = writer.create()
    assert_converged(sut, writer)
    start = sut.topic.end_offsets()
    poison = poison_messages(first + 1_000_000)
    sut.topic.produce(poison)
    second = writer.create()
    writer.update(first)
    verdict = assert_converged(sut, writer)
    assert set(verdict.stored) == {first, second}
    sut.wait_caught_up()
    letters = [d for d in read_dead_letters(sut.settings.kafka, sink=sut.name)
               if d.original_topic == sut.topic.name and d.original_offset >= start[d.original_partition]]
    letters = [d for d in letters if (d.key, d.value) in poison]
    assert len(letters) == len(poison), f"expected {len(poison)} dead letters, got {[d.ref for d in letters]}"
    assert {d.error_code for d in letters} == {"DP_3006"} and all(d.error_kind == "DataError" for d in letters)

    from console.cli import cli
    runner = CliRunner()
    listed = runner.invoke(cli, ["--env-file", "/dev/null", "dlq", "list", "--sink", sut.name, "--json", "--newest",
                                 "--limit", "1000"])
    assert listed.exit_code == 0, listed.output
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {letters[0].ref} <= {line["ref"] for line in lines[:-1]} and "page" in lines[-1]
    shown = runner.invoke(cli, ["--env-file", "/dev/null", "dlq", "show", letters[0].ref])
    assert shown.exit_code == 0 and "DP_3006" in shown.output and sut.topic.name in shown.output
    replayed = runner.invoke(cli, ["--env-file", "/dev/null", "dlq", "replay", *(d.ref for d in letters)])
    assert replayed.exit_code == 0 and f"replayed {len(poison)} message(s)" in replayed.output, replayed.output
    sut.wait_caught_up()
    again = [d for d in read_dead_letters(sut.settings.kafka, sink=sut.name) if (d.key, d.value) in poison
             and d.original_offset >= start[d.original_partition]]
    assert len(again) == 2 * len(poison), "replayed poison must be dead-lettered again, not applied or lost"
    assert set(assert_converged(sut, writer, timeout=10).stored) == {first, second}


def test_target_down_under_load_loses_nothing(sut, writer):
    runtime = sut.start()
    seed = [writer.create() for _ in range(5)]
    assert_converged(sut, writer)
    stack = StackManager(sut.settings)
    stop_writing = threading.Event()
    written = []

    def load() -> None:  # ~20 changes/s of every kind while the target is down
        i = 0
        while not stop_writing.is_set():
            policy = writer.create()
            written.append(policy)
            if i % 3 == 0:
                writer.update(seed[i % len(seed)])
            if i % 5 == 4:
                writer.set_status(written[-2], "rejected")
            if i % 7 == 6:
                writer.delete(written[-3])
            i += 1
            time.sleep(0.05)

    loader = threading.Thread(target=load, daemon=True)
    try:
        try:
            stack.down([sut.target.stack_service])
            loader.start()
            deadline = time.monotonic() + OUTAGE_SECONDS
            saw_pause = False
            while time.monotonic() < deadline:
                sut.check_alive()
                saw_pause = saw_pause or (runtime.health.paused and not runtime.health.ready)
                time.sleep(0.5)
            assert saw_pause, "the runtime never paused while its target was down"
            assert runtime.stats.outages >= 1
        finally:
            stack.up([sut.target.stack_service])
        time.sleep(2)
    finally:
        stop_writing.set()  # never let the load outlive the test
        loader.join(10)
    assert len(written) > OUTAGE_SECONDS * 5
    verdict = assert_converged(sut, writer, timeout=120)
    assert len(verdict.stored) > len(seed)
    sut.check_alive()
    assert runtime.health.ready


def test_sigkill_mid_batch_then_restart_converges(sut, writer):
    # The kill must land between two commits: Redis applies 100 messages in a few milliseconds, so on
    # an idle machine it could finish the whole load between two looks at the committed offsets.
    sut.env["SINKS_BATCH_SIZE"] = sut.env["MILVUS_BATCH_SIZE"] = "10" if sut.name == "redis" else "100"
    ids = writer.create_many(KILL_LOAD // 2)
    writer.update_many(ids[::2])
    writer.update_many(ids[::4], status="rejected")
    writer.update_many(ids[::8], status="active")
    writer.delete_many(ids[::9])
    begin = sum(sut.start_offsets.values())
    started = time.monotonic()
    process = sut.spawn(sut.log_path)
    deadline = time.monotonic() + 90
    progress = 0
    while time.monotonic() < deadline and progress <= 0:
        assert process.poll() is None, f"sink process exited early: {sut.log_path.read_text()[-2000:]}"
        time.sleep(0.005)
        progress = sum(max(o, 0) for o in sut.topic.committed(sut.group).values()) - begin
    assert sut.kill(signal.SIGKILL) == -signal.SIGKILL
    total = sum(sut.topic.end_offsets().values()) - begin
    print(f"[conformance] {sut.name} killed {time.monotonic() - started:.1f}s after start with {progress} of "
          f"{total} messages committed (log: {sut.log_path})")
    assert 0 < progress < total, "the kill must land after the first commit and before the last"
    restarted = time.monotonic()
    sut.spawn(sut.log_path)
    assert_converged(sut, writer, timeout=120)
    print(f"[conformance] {sut.name} converged {time.monotonic() - restarted:.1f}s after the restart")
    sut.wait_caught_up()
    assert sut.kill(signal.SIGTERM) == 0, sut.log_path.read_text()[-2000:]


def test_a_backlog_is_applied_once_per_policy_not_once_per_change(sut, writer, monkeypatch):
    """Catch-up in proportion to policies: 40 policies changed 12 times each while the sink was away;
    past SINKS_LOOKAHEAD_MIN_LAG the sink reads the backlog's keys and skips superseded changes."""
    ids = writer.create_many(40)
    for _ in range(11):
        writer.update_many(ids)
    sut.wait_changes_of(ids, len(ids) * 12)
    sut.settings = sut.settings.model_copy(update={"sinks": sut.settings.sinks.model_copy(
        update={"lookahead_min_lag": 100, "batch_size": 50})})
    runtime = sut.start()
    assert_converged(sut, writer, timeout=120)
    assert runtime.stats.messages >= len(ids) * 12
    assert runtime.stats.applied <= len(ids) * 2, f"{runtime.stats.applied} writes for {len(ids)} policies"
