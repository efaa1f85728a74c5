"""What the sink conformance tests (and other tests of one sink on the real path) drive: PostgreSQL
writes, the change topic, the sink, and the check.

The check is always the same: the target holds exactly PostgreSQL's active view of the rows this
test touched — the same ids, each with PostgreSQL's content hash and the LSN of the row's newest
change event on the topic — and nothing else; its own range checksums say so too; and a deep read
of every record (``Sink.read_records``) equals the sink's projection of PostgreSQL's row, as the
reconciler compares them.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from aegis.changestream.decoding import build_decoder
from aegis.changestream.event import decode_change
from aegis.db import connect
from aegis.errors import DataError, TransientError
from aegis.settings import Settings
from cdc_sinks.base import FINAL_LSN, Sink
from cdc_sinks.runtime import SinkRuntime
from reconciler.drift import ActiveView, classify, read_target
from testkit.checksums import checksums_of

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")
_counter = itertools.count(1)


class PolicyWriter:
    """Writes ``policies`` rows the way collectors and the reconciler do: plain SQL commits."""

    def __init__(self, settings: Settings, tag: str):
        self.conn = connect(settings.postgres, role="owner", autocommit=True)
        self.tag = tag
        self.ids: list[int] = []
        self.lock = threading.Lock()

    @staticmethod
    def _hash(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def create(self, status: str = "active", title: str | None = None) -> int:
        n = next(_counter)
        title = title or f"청년 창업 지원사업 {self.tag}-{n}"
        with self.lock:
            policy_id = self.conn.execute(
                "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash,"
                " status, contact_email, contact_phone, target_regions) VALUES ('conformance', %s, %s, %s,"
                " '중소벤처기업부', %s, %s, 'owner@example.com', '010-1234-5678', '{서울,부산}') RETURNING id",
                (f"{self.tag}-{n}", title, f"{title}: 창업 초기 기업에 자금을 지원합니다.", self._hash(title), status),
            ).fetchone()[0]
            self.ids.append(policy_id)
        return policy_id

    def create_many(self, count: int) -> list[int]:
        """``count`` active rows in one transaction (one change event each)."""
        n = next(_counter)
        with self.lock:
            rows = self.conn.execute(
                "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash,"
                " status) SELECT 'conformance', %s || '-' || g, '일괄 정책 ' || g, '지원 내용 ' || g, '고용노동부',"
                " encode(sha256((%s || g)::bytea), 'hex'), 'active' FROM generate_series(1, %s) AS g RETURNING id",
                (f"{self.tag}-{n}", f"{self.tag}-{n}", count)).fetchall()
            ids = [row[0] for row in rows]
            self.ids.extend(ids)
        return ids

    def update_many(self, ids: list[int], *, status: str | None = None) -> None:
        """Change title and hash (or only the status) of ``ids`` in one transaction."""
        with self.lock:
            if status is None:
                self.conn.execute("UPDATE policies SET title = title || ' (개정)', content_hash = encode(sha256("
                                  "(content_hash || 'u')::bytea), 'hex'), updated_at = now() WHERE id = ANY(%s)",
                                  (ids,))
            else:
                self.conn.execute("UPDATE policies SET status = %s, updated_at = now() WHERE id = ANY(%s)",
                                  (status, ids))

    def delete_many(self, ids: list[int]) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM policies WHERE id = ANY(%s)", (ids,))

    def update(self, policy_id: int, title: str | None = None) -> None:
        title = title or f"수정된 정책 {self.tag}-{next(_counter)}"
        with self.lock:
            self.conn.execute("UPDATE policies SET title = %s, content_hash = %s, updated_at = now() WHERE id = %s",
                              (title, self._hash(title + str(policy_id)), policy_id))

    def set_status(self, policy_id: int, status: str) -> None:
        with self.lock:
            self.conn.execute("UPDATE policies SET status = %s, updated_at = now() WHERE id = %s", (status, policy_id))

    def delete(self, policy_id: int) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM policies WHERE id = %s", (policy_id,))

    def active_view(self) -> dict[int, str]:
        """PostgreSQL's active rows among the ones this test wrote: id → content hash."""
        with self.lock:
            rows = self.conn.execute("SELECT id, content_hash FROM policies WHERE id = ANY(%s) AND status = 'active'",
                                     (self.ids,)).fetchall()
        return {row[0]: row[1].strip() for row in rows}

    def close(self) -> list[int]:
        """Delete the rows this test wrote, disconnect, and return the ids deleted now (one delete event
        each is on its way to the change topic: wait for them before the next test takes the topic's end)."""
        with self.lock:
            deleted: list[int] = []
            if self.ids:
                deleted = [row[0] for row in self.conn.execute(
                    "DELETE FROM policies WHERE id = ANY(%s) RETURNING id", (self.ids,)).fetchall()]
            self.conn.close()
        return deleted


def kafka_retry(fn: Callable[[], T], attempts: int = 15) -> T:
    """Kafka admin-ish calls fail while a coordinator loads or metadata is fresh: try again briefly."""
    for attempt in range(attempts):
        try:
            return fn()
        except KafkaException:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


class ChangeTopic:
    """The policy change topic: end offsets, reading a range, producing raw messages."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.name = settings.sinks.topic(settings.kafka)

    def _consumer(self, group: str | None = None) -> Consumer:
        return Consumer({**self.settings.kafka.client_config(),
                         "group.id": group or f"conformance-reader-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})

    def end_offsets(self) -> dict[int, int]:
        return kafka_retry(self._end_offsets)

    def ensure_exists(self) -> None:
        """Create the change topic as `aegis connectors apply` does (compacted, KAFKA_CHANGE_TOPIC_PARTITIONS)
        if nothing has created it yet."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({**self.settings.kafka.client_config()})
        if self.name in admin.list_topics(timeout=10).topics:
            return
        futures = admin.create_topics([NewTopic(self.name, num_partitions=self.settings.kafka.change_topic_partitions,
                                                replication_factor=-1, config={"cleanup.policy": "compact"})])
        try:
            futures[self.name].result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise

    def _end_offsets(self) -> dict[int, int]:
        self.ensure_exists()
        consumer = self._consumer()
        try:
            partitions = consumer.list_topics(self.name, timeout=10).topics[self.name].partitions
            return {p: consumer.get_watermark_offsets(TopicPartition(self.name, p), timeout=10)[1] for p in partitions}
        finally:
            consumer.close()

    def start_group_at_end(self, group: str) -> dict[int, int]:
        """Give consumer group ``group`` committed offsets at the topic's current end."""
        ends = self.end_offsets()
        consumer = self._consumer(group)
        try:
            kafka_retry(lambda: consumer.commit(offsets=[TopicPartition(self.name, p, o) for p, o in ends.items()],
                                                asynchronous=False))
        finally:
            consumer.close()
        return ends

    def committed(self, group: str) -> dict[int, int]:
        consumer = self._consumer(group)
        try:
            parts = [TopicPartition(self.name, p) for p in self.end_offsets()]
            return {tp.partition: tp.offset for tp in kafka_retry(lambda: consumer.committed(parts, timeout=10))}
        finally:
            consumer.close()

    def read(self, start: dict[int, int]) -> list:
        """Every message from ``start`` up to the current end."""
        ends = self.end_offsets()
        todo = {p: e for p, e in ends.items() if e > start.get(p, 0)}
        if not todo:
            return []
        consumer = self._consumer()
        consumer.assign([TopicPartition(self.name, p, start.get(p, 0)) for p in todo])
        out, deadline = [], time.monotonic() + 30
        try:
            while todo and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                out.append(msg)
                if msg.offset() + 1 >= todo.get(msg.partition(), 0):
                    todo.pop(msg.partition(), None)
        finally:
            consumer.close()
        return out

    def produce(self, messages: list[tuple[bytes | None, bytes | None]]) -> None:
        producer = Producer({**self.settings.kafka.client_config(), "acks": "all"})
        for key, value in messages:
            producer.produce(self.name, key=key, value=value)
        assert producer.flush(30) == 0


def newest_lsns(messages: list, ids: set[int], decode=decode_change) -> dict[int, int]:
    """The LSN of each row's newest change event among ``messages`` (deletes count as final)."""
    newest: dict[int, int] = {}
    for msg in messages:
        try:
            event = decode(msg.key(), msg.value())
        except DataError:
            continue
        if event.policy_id not in ids:
            continue
        lsn = FINAL_LSN if event.tombstone or event.op.value == "d" else (event.lsn or 0)
        newest[event.policy_id] = max(newest.get(event.policy_id, 0), lsn)
    return newest


def stored_state(sink: Sink) -> dict[int, tuple[int, str]]:
    """Everything the target holds in this test's namespace: id → (lsn, content hash)."""
    return {v.policy_id: (v.lsn, v.content_hash) for v in read_target(sink, 500)}


CHECKSUM_RANGE = 1000


def checksums_agree(sink: Sink, expected: dict[int, tuple[int, str]]) -> bool:
    """The target's own range checksums are those of ``expected``."""
    want = checksums_of(((policy_id, content_hash) for policy_id, (_, content_hash) in expected.items()),
                        CHECKSUM_RANGE)
    return sink.range_checksums(CHECKSUM_RANGE, 0, None) == want


def deep_differences(sink: Sink, settings: Settings, ids: list[int]) -> list[str]:
    """Records whose deep read differs from the sink's projection of PostgreSQL's row (the reconciler's view)."""
    with connect(settings.postgres, autocommit=True) as conn:
        rows = {i: r for i, r in ActiveView(conn).rows(ids).items() if r.is_active}
    stored = sink.read_records(ids)
    found = [classify(i, rows.get(i), stored.get(i), sink=sink) for i in ids]
    return [f"{d.policy_id} {d.kind.value} {d.detail}" for d in found if d is not None]


@dataclass
class Verdict:
    converged: bool
    expected: dict[int, tuple[int, str]]
    stored: dict[int, tuple[int, str]]
    checksums_agree: bool = True
    deep: list[str] = None  # type: ignore[assignment]

    def diff(self) -> str:
        missing = sorted(set(self.expected) - set(self.stored))
        extra = sorted(set(self.stored) - set(self.expected))
        wrong = sorted(i for i in set(self.expected) & set(self.stored) if self.expected[i] != self.stored[i])
        return (f"missing={missing[:10]} ({len(missing)}), extra={extra[:10]} ({len(extra)}), "
                f"stale={[(i, self.stored[i], self.expected[i]) for i in wrong[:3]]} ({len(wrong)})"
                + ("" if self.checksums_agree else ", the target's own range checksums differ")
                + (f", deep reads differ: {self.deep[:3]}" if self.deep else ""))


class SinkUnderTest:
    """One sink in its own namespace and consumer group, run in-process or as `aegis sinks run`."""

    def __init__(self, name: str, settings: Settings, env: dict[str, str], build: Callable[[], Sink]):
        self.name = name
        self.settings = settings
        self.env = env
        self.sink = build()
        self.group = f"{settings.sinks.group_id_prefix}{name}"
        self.topic = ChangeTopic(settings)
        self.start_offsets = self.topic.start_group_at_end(self.group)
        self.decode = build_decoder(settings)  # CHANGE_EVENTS_FORMAT: the same decoder the sink uses
        self.runtime: SinkRuntime | None = None
        self._thread: threading.Thread | None = None
        self._errors: list[BaseException] = []
        self.process: subprocess.Popen | None = None

    def wait_changes_of(self, ids: list[int], count: int, timeout: float = 60.0,
                        since: dict[int, int] | None = None) -> None:
        """Wait until the change topic holds ``count`` change events of ``ids`` past ``since`` (default:
        this test's start; other tests' changes — a previous test's clean-up still streaming — do not count)."""
        wanted, deadline, seen = set(ids), time.monotonic() + timeout, 0
        while True:
            seen = 0
            for message in self.topic.read(self.start_offsets if since is None else since):
                try:
                    event = self.decode(message.key(), message.value())
                except DataError:
                    continue
                seen += event.policy_id in wanted and not event.tombstone
            if seen >= count:
                return
            assert time.monotonic() < deadline, f"the change topic got {seen} of {count} changes in {timeout:.0f}s"
            time.sleep(0.5)

    # -- in-process runtime
    def start(self) -> SinkRuntime:
        self.runtime = SinkRuntime(self.sink, self.settings)

        def run() -> None:
            try:
                self.runtime.run()
            except BaseException as exc:  # noqa: BLE001 - surfaced by stop()/check_alive()
                self._errors.append(exc)

        self._thread = threading.Thread(target=run, name=f"sink-{self.name}", daemon=True)
        self._thread.start()
        return self.runtime

    def check_alive(self) -> None:
        assert not self._errors, f"sink runtime died: {self._errors[0]!r}"
        assert self._thread is not None and self._thread.is_alive(), "sink runtime thread is not running"

    def stop(self) -> None:
        if self.runtime is not None and self._thread is not None:
            self.runtime.stop()
            self._thread.join(60)
            assert not self._thread.is_alive(), "runtime did not stop within 60 s"
        assert not self._errors, f"sink runtime died: {self._errors[0]!r}"

    # -- as a process (`aegis sinks run NAME`)
    def spawn(self, log_path: Path) -> subprocess.Popen:
        env = {**os.environ, **self.env}
        log = log_path.open("ab")
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "aegis"), "sinks", "run", self.name,
                                         "--metrics-port", "0"], env=env, stdout=log, stderr=log,
                                        cwd=str(REPO), start_new_session=True)
        return self.process

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(60)

    # -- the check
    def verdict(self, writer: PolicyWriter) -> Verdict:
        active = writer.active_view()
        lsns = newest_lsns(self.topic.read(self.start_offsets), set(writer.ids), self.decode)
        expected = {i: (lsns.get(i, -1), digest) for i, digest in active.items()}
        stored = stored_state(self.sink)
        same = stored == expected
        agree = checksums_agree(self.sink, expected) if same else True  # asked once the records match
        deep = deep_differences(self.sink, self.settings, list(writer.ids)) if same and agree else []
        return Verdict(same and agree and not deep, expected, stored, agree, deep)

    def wait_converged(self, writer: PolicyWriter, timeout: float = 60.0) -> Verdict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                verdict = self.verdict(writer)
            except TransientError:  # the target is slow to answer the check itself: look again
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
                continue
            if verdict.converged or time.monotonic() > deadline:
                return verdict
            if self._thread is not None:
                self.check_alive()
            time.sleep(0.5)

    def wait_caught_up(self, timeout: float = 60.0) -> None:
        """Until the group's committed offsets reach the topic's end (everything processed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ends, committed = self.topic.end_offsets(), self.topic.committed(self.group)
            if all(committed.get(p, -1) >= e for p, e in ends.items()):
                return
            time.sleep(0.3)
        raise AssertionError(f"group {self.group} did not catch up: committed {committed}, end {ends}")

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill(signal.SIGKILL)
        self.sink.close()
