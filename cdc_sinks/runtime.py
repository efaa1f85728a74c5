"""The one sink runtime every target shares: consume, plan, write, dead-letter, commit.

One confluent-kafka consumer per sink process, in the sink's consumer group
(``SINKS_GROUP_ID_PREFIX`` + sink name), auto-commit off. Several processes of one sink
(``SINKS_MEMBERS``) share the change topic's partitions, cooperative-sticky: a member joining or
leaving moves only the partitions that change hands. A revoked partition's written offsets are
committed in the revoke callback, which runs between batches (inside ``consume``), so a batch is
either written and committed before its partitions move or, when they are lost (the member was
out of the group), left to the new owner: at-least-once, and the LSN guard rejects a redelivered
change that is no longer the newest. Each loop turn takes a micro-batch (at most ``SINKS_BATCH_SIZE``
messages, waiting at most ``SINKS_BATCH_WAIT_MS``), plans it (``cdc_sinks.batching``), writes it
(``cdc_sinks.applier``), sends refused messages to the dead-letter topic and only then marks the
batch's offsets written. Written offsets are committed at most once per ``SINKS_COMMIT_INTERVAL_MS``
(default 1 s; a commit per batch cost more than the batch's fetch), and always when partitions are
revoked, before a pause for an outage and when the sink stops; offsets never go past what was
written. A crash redelivers what was written since the last commit, which the LSN guard absorbs.

While the target stays unreachable after the retries, the runtime pauses its partitions, keeps
the batch in memory and probes ``sink.ping()`` every ``SINKS_PROBE_INTERVAL_SECONDS``; when the
target answers it writes the batch and resumes. An outage of what decoding depends on (the schema
registry of the Avro profile: the decoder raises ``TransientError``) is waited out the same way,
probing ``decode.ping()``, before anything of the batch is written, dead-lettered or committed.
``stop()`` (SIGTERM/SIGINT in the CLI) lets the current batch finish — or, during an outage,
abandons it uncommitted — and closes cleanly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from aegis.changestream.decoding import ChangeDecoder, build_decoder
from aegis.errors import AegisError, ErrorCode, TerminalError, TransientError
from aegis.retry import RetryPolicy
from aegis.settings import Settings
from cdc_sinks.applier import apply_plan
from cdc_sinks.base import FINAL_LSN, Sink
from cdc_sinks.batching import BatchPlan, ConsumedMessage, Rejected, plan_batch, position
from cdc_sinks.dlq import DeadLetterWriter
from cdc_sinks.lookahead import LookAhead
from cdc_sinks.observability import HealthState, SinkMetrics
from cdc_sinks.registry import micro_batch

log = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]


@dataclass
class RuntimeStats:
    """Counters a caller (CLI, tests, bench) can read while the runtime runs."""

    batches: int = 0
    messages: int = 0
    applied: int = 0
    dead_lettered: int = 0
    outages: int = 0
    commits: int = 0
    committed: dict[TopicPartitionKey, int] = field(default_factory=dict)


class ConsumerStalled(TransientError):
    """The Kafka consumer holds no partition and has not rejoined its group in time."""


class SinkRuntime:
    """Runs one sink until ``stop()`` is called (or a ``TerminalError`` ends it)."""

    def __init__(self, sink: Sink, settings: Settings, *, metrics: SinkMetrics | None = None,
                 health: HealthState | None = None, group_id: str | None = None, batch_size: int | None = None):
        cfg = settings.sinks
        self.sink = sink
        self.settings = settings
        self.topic = cfg.topic(settings.kafka)
        self.group_id = group_id or f"{cfg.group_id_prefix}{sink.name}"
        self.batch_size = batch_size or micro_batch(sink.name, settings)  # a sink may have its own (its spec)
        self.retry = RetryPolicy(attempts=cfg.retry_attempts, base_delay=cfg.retry_base_delay_seconds,
                                 max_delay=cfg.retry_max_delay_seconds)
        self.metrics = metrics or SinkMetrics(sink.name)
        self.health = health or HealthState()
        self.stats = RuntimeStats()
        self.decode: ChangeDecoder = build_decoder(settings)  # CHANGE_EVENTS_FORMAT: json or avro
        self._stop = threading.Event()
        self._assigned: set[TopicPartitionKey] = set()
        self._pending: dict[TopicPartitionKey, int] = {}
        self._epoch = 0  # bumped whenever partitions are revoked or lost
        self._last_event_ts: float | None = None
        self._last_lag_check = 0.0
        self._last_commit = 0.0
        self._dlq: DeadLetterWriter | None = None
        self._holding_since: float | None = None  # last moment the consumer held a partition
        self._last_assignment_check = 0.0
        self._lookahead = LookAhead()
        self._resume_at: dict[int, int] = {}  # per partition held and not read yet: where reading starts

    # ----------------------------------------------------------------- control
    def stop(self) -> None:
        """Ask the loop to finish the batch in hand (or abandon it during an outage) and close."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def consumer_config(self) -> dict:
        return {
            **self.settings.kafka.client_config(),  # brokers, TLS and SASL (KAFKA_SECURITY_PROTOCOL)
            "group.id": self.group_id,
            "client.id": f"aegis-sink-{self.sink.name}-{os.getpid()}",  # tells the group's members apart
            # A member joining or leaving moves only the partitions that change hands; the others keep
            # consuming (eager assignment would stop every member for each rebalance).
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "fetch.min.bytes": self.settings.sinks.fetch_min_bytes,
            "fetch.wait.max.ms": self.settings.sinks.fetch_wait_ms,
            # partitions added to the change topic (`aegis connectors repartition`) are seen within
            # this, not librdkafka's default of five minutes, during which their events wait
            "topic.metadata.refresh.interval.ms": 10_000,
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 2_000,
            "max.poll.interval.ms": 300_000,
        }

    # -------------------------------------------------------------------- loop
    def run(self) -> None:
        """Consume until stopped. Raises ``TerminalError`` when the sink cannot go on."""
        self._dlq = DeadLetterWriter(self.settings.kafka, self.sink.name)
        if not self._prepare_target():
            return
        consumer = Consumer(self.consumer_config())
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        log.info("sink consuming", extra={"sink": self.sink.name, "topic": self.topic, "group": self.group_id})
        self.health.detail = "consuming"
        self._holding_since = time.monotonic()
        stalled = False
        try:
            while not self._stop.is_set():
                messages = self._consume(consumer)
                if messages:
                    self._process(consumer, messages)
                self._commit_due(consumer)
                self._update_lag(consumer)
                self._check_assignment(consumer)
        except ConsumerStalled:
            stalled = True
            raise
        finally:
            self.health.assigned_partitions = 0
            self.health.detail = "stalled" if stalled else "stopped"
            if not stalled:  # a stuck consumer's close can block on the coordinator it lost
                try:
                    consumer.close()  # revokes: commits what was written and not yet committed
                except (KafkaException, RuntimeError) as exc:
                    log.warning("closing the consumer failed: %s", exc, extra={"sink": self.sink.name})
            self._dlq.close()

    def _check_assignment(self, consumer: Consumer, every: float = 1.0) -> None:
        """Raise ``ConsumerStalled`` after ``SINKS_REJOIN_TIMEOUT_SECONDS`` outside the group (no
        partition and no member id).

        A librdkafka consumer whose group coordinator went away (a broker restart) can stay out of
        its group for good, its coordinator request queued forever: alive, but applying nothing.
        Nothing is lost by giving up on it — offsets are committed only after their writes.
        """
        now = time.monotonic()
        if now - self._last_assignment_check < every:
            return
        self._last_assignment_check = now
        try:  # a member without partitions (a standby in the group) has a member id; one out of the group has none
            holding = bool(consumer.assignment()) or bool(consumer.memberid())
        except (KafkaException, RuntimeError):
            holding = False
        if holding or self._holding_since is None:
            self._holding_since = now
            return
        waited = now - self._holding_since
        if waited > self.settings.sinks.rejoin_timeout_seconds:
            log.error("consumer out of its group: giving it up", extra={"sink": self.sink.name,
                      "code": ErrorCode.CONSUMER_STALLED.value, "seconds": round(waited)})
            raise ConsumerStalled(
                f"sink {self.sink.name}: not a member of group {self.group_id} and no partition of "
                f"{self.topic} for {waited:.0f} s", code=ErrorCode.CONSUMER_STALLED,
                hint="the process exits for its supervisor to start a fresh consumer; if it recurs, check the "
                     "Kafka broker (`aegis stack status`) and the group (kafka-consumer-groups --describe)")

    def _prepare_target(self) -> bool:
        """``ensure_ready`` with retries; while the target is unreachable keep probing (stay alive)."""
        while not self._stop.is_set():
            try:
                self.sink.ensure_ready()
                self.health.target_ok = True
                return True
            except TransientError as exc:
                self.health.target_ok = False
                self.health.detail = f"target unreachable at start: {exc.message}"
                log.warning("target not ready, probing again in %.1fs: %s", self.settings.sinks.probe_interval_seconds,
                            exc.message, extra={"sink": self.sink.name, "code": exc.code.value})
                self._stop.wait(self.settings.sinks.probe_interval_seconds)
        return False

    def _consume(self, consumer: Consumer) -> list[ConsumedMessage]:
        cfg = self.settings.sinks
        raw = consumer.consume(num_messages=self.batch_size, timeout=cfg.batch_wait_ms / 1000)
        messages = []
        for m in raw:
            error = m.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error, extra={"sink": self.sink.name})
                continue
            messages.append(ConsumedMessage.of(m))
        return messages

    def _process(self, consumer: Consumer, consumed: list[ConsumedMessage]) -> None:
        epoch = self._epoch
        started = time.monotonic()
        self._look_ahead(consumer, consumed)
        messages = [m for m in consumed if not self._lookahead.superseded(m)]
        skipped = len(consumed) - len(messages)
        plan = self._plan(consumer, messages, epoch)
        if plan is None:
            self._abandoned(consumed)
            return
        while True:
            try:
                result = apply_plan(self.sink, plan, self.retry, sleep=self._backoff_sleep)
                self.health.target_ok = True
                break
            except TransientError as exc:
                self.metrics.transient_errors.labels(self.sink.name).inc()
                if not self._wait_out_outage(consumer, exc, epoch, "target", self.sink.ping):
                    self._abandoned(consumed)
                    return
            except AegisError:
                raise
            except Exception as exc:  # an untranslated driver error: stop rather than skip anything
                raise TerminalError(f"sink {self.sink.name} raised an untranslated {type(exc).__name__}: {exc}",
                                    code=ErrorCode.BATCH_PROCESSING_ERROR,
                                    hint="this is a bug in the sink: it must translate driver errors "
                                         "(see cdc_sinks/base.py); nothing past the last written batch "
                                         "was committed") from exc
        dead = plan.rejected + result.rejected
        if dead and not self._dead_letter(dead):
            return
        write_seconds = time.monotonic() - started
        self._mark_written(consumed)
        now_ms = time.time() * 1000
        ages = [(now_ms - c.event.source_ts_ms) / 1000 for c in plan.changes.values() if c.event.source_ts_ms]
        lsns = [c.lsn for c in plan.changes.values() if c.lsn != FINAL_LSN]
        event_times = [c.event.source_ts_ms or c.message.timestamp_ms for c in plan.changes.values()]
        if any(event_times):
            self._last_event_ts = max(t for t in event_times if t) / 1000
        self.metrics.batch_written(upserted=result.upserted, removed=result.removed, dead=len(dead),
                                   superseded=plan.superseded + skipped, seconds=write_seconds, commit_ages=ages,
                                   max_lsn=max(lsns) if lsns else None)
        self.stats.batches += 1
        self.stats.messages += len(consumed)
        self.stats.applied += result.upserted + result.removed
        self.stats.dead_lettered += len(dead)
        self.health.last_batch_at = time.time()
        log.info("batch applied", extra={"sink": self.sink.name, "messages": len(consumed),
                                         "upserted": result.upserted, "removed": result.removed,
                                         "superseded": plan.superseded + skipped, "dead_lettered": len(dead),
                                         "write_ms": round(write_seconds * 1000, 1)})

    def _look_ahead(self, consumer: Consumer, consumed: list[ConsumedMessage]) -> None:
        """Read the backlog's keys once the partitions held are ``SINKS_LOOKAHEAD_MIN_LAG`` behind together
        (cdc_sinks/lookahead.py)."""
        threshold = self.settings.sinks.lookahead_min_lag
        if not threshold:
            return
        starts, ends = {}, {}
        firsts = {m.partition: m.offset for m in reversed(consumed)}  # the batch's first offset per partition
        held = {p for t, p in self._assigned if t == self.topic}
        try:  # the partitions held but not in this batch: from the next offset this consumer reads
            positions = {tp.partition: tp.offset for tp in
                         consumer.position([TopicPartition(self.topic, p) for p in held - set(firsts)])}
        except KafkaException:
            positions = {}
        unread = [p for p, offset in positions.items() if offset < 0 and p not in self._resume_at]
        if unread:  # nothing consumed there yet: it starts where the group committed (or at the oldest)
            self._remember_starts(consumer, unread)
        positions = {p: self._resume_at.get(p, -1) if offset < 0 else offset for p, offset in positions.items()}
        behind = 0
        for partition, first in {**positions, **firsts}.items():
            if first < 0:
                continue  # nothing read there yet: counted once its first message arrives
            try:
                _low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), cached=True)
                if high is None or high < 0:  # no fetch answered for it yet (just assigned): ask the broker
                    _low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=5)
            except KafkaException:
                continue
            if high is None or high <= first:
                continue
            behind += high - first
            if not self._lookahead.covers(partition, first):
                starts[partition], ends[partition] = first, high
        # The backlog of every partition held, together (covered ones included): a topic of many
        # partitions spreads one burst thin, and each partition alone may stay under the threshold.
        if starts and behind > threshold:
            read = self._lookahead.read(self.settings.kafka, self.topic, starts, ends)
            log.info("look-ahead read", extra={"sink": self.sink.name, "messages": read,
                                              "keys": len(self._lookahead.last)})

    def _remember_starts(self, consumer: Consumer, partitions: list[int]) -> None:
        """Where the group resumes on ``partitions``: its committed offset, else the oldest retained."""
        try:
            committed = consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=5)
        except KafkaException:
            return
        for tp in committed:
            if tp.offset >= 0:
                self._resume_at[tp.partition] = tp.offset
                continue
            try:  # never committed: auto.offset.reset=earliest
                low, _high = consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition), timeout=5)
            except KafkaException:
                continue
            if low is not None and low >= 0:
                self._resume_at[tp.partition] = low

    def _plan(self, consumer: Consumer, messages: list[ConsumedMessage], epoch: int) -> BatchPlan | None:
        """Decode and plan the batch; while decoding fails transiently (the schema registry is down)
        pause and probe it, then decode again. None when the batch must be abandoned."""
        while True:
            try:
                return plan_batch(messages, self.decode)
            except TransientError as exc:
                if not self._wait_out_outage(consumer, exc, epoch, "schema registry", self.decode.ping):
                    return None

    def _abandoned(self, messages: list[ConsumedMessage]) -> None:
        log.warning("batch abandoned uncommitted (%s)", "stopping" if self._stop.is_set() else "partitions revoked",
                    extra={"sink": self.sink.name, "messages": len(messages)})

    def _backoff_sleep(self, seconds: float) -> None:
        """Sleep between write retries; a stop request ends the retrying (the batch is then abandoned)."""
        if self._stop.wait(seconds):
            raise TransientError("stop requested during retries", code=ErrorCode.BATCH_PROCESSING_ERROR)

    def _dead_letter(self, dead: list[Rejected]) -> bool:
        """Send dead letters until Kafka acknowledges them (or stop is asked: then False)."""
        attempt = 0
        while True:
            try:
                self._dlq.send(dead)  # type: ignore[union-attr]
                break
            except TransientError as exc:
                attempt += 1
                if self._stop.is_set():
                    return False
                log.warning("dead-letter write failed (attempt %d): %s", attempt, exc.message,
                            extra={"sink": self.sink.name})
                self._stop.wait(self.retry.delay(min(attempt, 10)))
        for item in dead:
            self.metrics.dead_letters.labels(self.sink.name, item.error.code.value).inc()
            log.error("message dead-lettered", extra={
                "sink": self.sink.name, "code": item.error.code.value, "error": item.error.message,
                "topic": item.message.topic, "partition": item.message.partition, "offset": item.message.offset})
        return True

    # --------------------------------------------------------------- outages
    def _wait_out_outage(self, consumer: Consumer, exc: TransientError, epoch: int, what: str,
                         probe: Callable[[], bool]) -> bool:
        """Pause, ``probe()`` until ``what`` (the target, the schema registry) answers. False when the
        batch must be abandoned."""
        self.stats.outages += 1
        self._commit_pending(consumer)  # what was written before the outage is not redelivered after it
        if what == "target":
            self.health.target_ok = False
        self.health.paused = True
        self.health.detail = f"{what} unreachable: {exc.message}"
        self.metrics.paused.labels(self.sink.name).set(1)
        paused = consumer.assignment()
        if paused:
            consumer.pause(paused)
        interval = self.settings.sinks.probe_interval_seconds
        log.error("%s unreachable: partitions paused, probing every %.1fs", what, interval,
                  extra={"sink": self.sink.name, "code": exc.code.value, "error": exc.message})
        try:
            while not self._stop.is_set():
                msg = consumer.poll(interval)  # serves rebalance callbacks and keeps the membership alive
                if msg is not None and msg.error() is None:
                    consumer.seek(TopicPartition(*position(msg)))
                if self._epoch != epoch:
                    return False
                if probe():
                    log.warning("%s answers again: resuming", what, extra={"sink": self.sink.name})
                    return True
            return False
        finally:
            current = consumer.assignment()
            if current and not self._stop.is_set():
                consumer.resume(current)
            self.health.paused = False
            self.metrics.paused.labels(self.sink.name).set(0)
            self.health.detail = "consuming"

    # --------------------------------------------------------------- offsets
    def _mark_written(self, messages: list[ConsumedMessage]) -> None:
        for m in messages:
            key = (m.topic, m.partition)
            if key in self._assigned:
                self._pending[key] = max(self._pending.get(key, -1), m.offset + 1)

    def _commit_due(self, consumer: Consumer) -> None:
        """Commit the written offsets once ``SINKS_COMMIT_INTERVAL_MS`` has passed since the last commit.

        A commit is a broker round trip and a write to ``__consumer_offsets``: after every batch it cost
        the broker and the sink more per change than the batch's own fetch (bench/RESULTS.md).
        """
        if self._pending and time.monotonic() - self._last_commit >= self.settings.sinks.commit_interval_ms / 1000:
            self._commit_pending(consumer)

    def _commit_pending(self, consumer: Consumer, only: set[TopicPartitionKey] | None = None) -> None:
        keys = [k for k in self._pending if only is None or k in only]
        if not keys:
            return
        offsets = [TopicPartition(t, p, self._pending[(t, p)]) for t, p in keys]
        self._last_commit = time.monotonic()  # a failed commit is tried again after the interval too
        try:
            result = consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            log.warning("offset commit failed (tried again after SINKS_COMMIT_INTERVAL_MS): %s", exc,
                        extra={"sink": self.sink.name})
            return
        self.stats.commits += 1
        for tp in result or []:
            key = (tp.topic, tp.partition)
            if tp.error is None and self._pending.get(key) == tp.offset:
                del self._pending[key]
                self.stats.committed[key] = tp.offset

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}
        self.health.assigned_partitions = len(self._assigned)
        log.info("partitions assigned",
                 extra={"sink": self.sink.name, "partitions": sorted(p for _, p in self._assigned)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        self._commit_pending(consumer, only=revoked)
        self._forget(revoked)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget({(tp.topic, tp.partition) for tp in partitions})

    def _forget(self, keys: set[TopicPartitionKey]) -> None:
        for key in keys:
            self._pending.pop(key, None)
            self._lookahead.forget(key[1])
            self._resume_at.pop(key[1], None)
        self._assigned -= keys
        self.health.assigned_partitions = len(self._assigned)
        self._epoch += 1

    # ------------------------------------------------------------------- lag
    def _update_lag(self, consumer: Consumer, every: float = 1.0) -> None:
        now = time.monotonic()
        if now - self._last_lag_check < every or not self._assigned:
            return
        self._last_lag_check = now
        behind = 0
        for topic, partition in list(self._assigned):
            tp = TopicPartition(topic, partition)
            try:
                _low, high = consumer.get_watermark_offsets(tp, cached=True)
                position = consumer.position([tp])[0].offset
            except KafkaException:
                continue
            if high is not None and high >= 0 and position is not None and position >= 0:
                behind += max(high - position, 0)
        self.metrics.lag_events.labels(self.sink.name).set(behind)
        lag = 0.0 if behind == 0 or self._last_event_ts is None else max(time.time() - self._last_event_ts, 0.0)
        self.metrics.lag_seconds.labels(self.metrics.path).set(lag)
