"""Commit → Kafka latency and sustained throughput of the change stream (issue 3).

Runs against the local stack (`aegis stack up`, `aegis db migrate`) with a connector, slot,
publication and topic prefix of its own, so the project's connector is not disturbed. Each
writer transaction's commit time is taken on the client right after COMMIT returns; a row's
latency is the time its change message is received by a Kafka consumer on the same machine
minus that commit time (so it includes Debezium, Connect's producer, the broker and the fetch).

    .venv/bin/python -m bench.changestream.bench_changestream latency --rate 200 --seconds 30 \
        --set poll.interval.ms=500 --set poll.interval.ms=5
    .venv/bin/python -m bench.changestream.bench_changestream throughput --rates 1000,2000,5000,8000
    .venv/bin/python -m bench.changestream.bench_changestream toasted --identities full,default,full,default

Each `--set` value of one key is a separate configuration measured in turn. `toasted` weighs the
table's REPLICA IDENTITY where it matters most: status-only updates of rows whose long content is
stored out of line, which DEFAULT leaves out of the WAL and the connector's re-select reads back
(one query per event); it reports WAL bytes, Connect's and PostgreSQL's CPU per change, commit →
Kafka latency, and how many events still carried the placeholder (must be 0). It changes the
identity of the shared `policies` table while it runs, and leaves it DEFAULT (migration 0009).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from aegis.changestream.event import UNAVAILABLE
from aegis.db import connect
from aegis.db.migrate import ensure_replication_access
from aegis.settings import Settings, load_settings
from connectors.manage import apply_connector, delete_connector, wait_until_running
from testkit.cpu import CpuMeter
from testkit.policies import incompressible_hangul

_INSERT = """
INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash, status)
SELECT %(source)s, %(run)s || '-' || n, '벤치 정책 ' || n, repeat('내용 ', 40), '기관', repeat('e', 64), 'active'
  FROM generate_series(%(first)s::int, %(last)s::int) AS n"""


def bench_settings(settings: Settings, tag: str) -> Settings:
    pg = settings.postgres.model_copy(update={"slot_name": f"aegis_bench_{tag}", "publication": f"aegis_bench_{tag}"})
    kafka = settings.kafka.model_copy(update={"topic_prefix": f"bench_{tag}",
                                              "topic_policy_events": f"bench_{tag}.policy-events"})
    connector = settings.connector.model_copy(update={"name": f"aegis-bench-{tag}", "snapshot_mode": "no_data"})
    return settings.model_copy(update={"postgres": pg, "kafka": kafka, "connector": connector})


@dataclass
class Run:
    commits: dict[int, float] = field(default_factory=dict)   # row number → commit time
    received: dict[int, float] = field(default_factory=dict)  # row number → first receipt time
    produced: dict[int, float] = field(default_factory=dict)  # row number → Kafka record timestamp (Connect's producer)
    written: int = 0
    write_seconds: float = 0.0


def _consume(settings: Settings, run_id: str, run: Run, expected: int, stop: threading.Event, ready: threading.Event):
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"bench-{run_id}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 10, "fetch.min.bytes": 1})
    _assign_at_end(settings, consumer, stop)
    ready.set()
    prefix = f'"source_id":"{run_id}-'.encode()
    while not stop.is_set() and len(run.received) < expected:
        # consume(n, timeout) waits out the whole timeout unless n messages arrive: take the first
        # message as soon as it is there, then whatever else is already fetched.
        first = consumer.poll(0.05)
        if first is None:
            continue
        for m in [first, *consumer.consume(num_messages=10_000, timeout=0)]:
            now = time.time()
            value = m.value()
            if m.error() or value is None:
                continue
            at = value.find(prefix)
            if at < 0:
                continue
            end = value.index(b'"', at + len(prefix))
            number = int(value[at + len(prefix):end])
            if number not in run.received:
                run.received[number] = now
                run.produced[number] = m.timestamp()[1] / 1000
    consumer.close()


def _assign_at_end(settings: Settings, consumer: Consumer, stop: threading.Event) -> None:
    """Assign every partition of the policies change topic at its end (only this run's changes count),
    once the topic exists: the connector creates it with its first change."""
    topic = f"{settings.kafka.topic_prefix}.public.policies"
    admin = AdminClient({**settings.kafka.client_config()})
    while not stop.is_set():
        meta = admin.list_topics(topic, timeout=5).topics.get(topic)
        if meta is not None and meta.error is None and meta.partitions:
            break
        time.sleep(0.1)
    else:
        return
    consumer.assign([TopicPartition(topic, p, _end_offset(consumer, TopicPartition(topic, p)))
                     for p in meta.partitions])


def _end_offset(consumer: Consumer, partition: TopicPartition, attempts: int = 30) -> int:
    """The partition's high watermark; a topic just created may not have a leader for a moment."""
    for _ in range(attempts - 1):
        try:
            return consumer.get_watermark_offsets(partition, timeout=5)[1]
        except KafkaException:
            time.sleep(0.5)
    return consumer.get_watermark_offsets(partition, timeout=5)[1]


def _write(settings: Settings, run_id: str, run: Run, rate: float, seconds: float, rows_per_tx: int) -> None:
    """Insert rows at ``rate`` rows/s in transactions of ``rows_per_tx`` rows, for ``seconds``."""
    total = int(rate * seconds)
    interval = rows_per_tx / rate
    with connect(settings.postgres, role="owner") as conn:
        started = time.perf_counter()
        number = 0
        while number < total:
            due = started + (number / rows_per_tx) * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            last = min(number + rows_per_tx, total) - 1
            conn.execute(_INSERT, {"source": f"bench-{run_id}", "run": run_id, "first": number, "last": last})
            conn.commit()
            committed = time.time()
            for n in range(number, last + 1):
                run.commits[n] = committed
            number = last + 1
        run.write_seconds = time.perf_counter() - started
        run.written = number


def measure(settings: Settings, rate: float, seconds: float, rows_per_tx: int, drain_timeout: float = 60) -> dict:
    run_id = secrets.token_hex(4)
    run = Run()
    stop, ready = threading.Event(), threading.Event()
    expected = int(rate * seconds)
    consumer = threading.Thread(target=_consume, args=(settings, run_id, run, expected, stop, ready), daemon=True)
    consumer.start()
    ready.wait(60)
    time.sleep(0.5)
    _write(settings, run_id, run, rate, seconds, rows_per_tx)
    deadline = time.monotonic() + drain_timeout
    while len(run.received) < run.written and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    consumer.join(10)
    latencies = sorted((run.received[n] - run.commits[n]) * 1000 for n in run.received if n in run.commits)
    to_kafka = sorted((run.produced[n] - run.commits[n]) * 1000 for n in run.received if n in run.commits)
    from_kafka = sorted((run.received[n] - run.produced[n]) * 1000 for n in run.received)
    missing = run.written - len(run.received)

    def pct(p: float, values: list[float] | None = None) -> float:
        values = latencies if values is None else values
        return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")
    return {"source_system": f"bench-{run_id}","target_rate": rate, "rows_per_tx": rows_per_tx, "seconds": seconds, "written": run.written,
            "achieved_write_rate": round(run.written / run.write_seconds, 1) if run.write_seconds else None,
            "received": len(run.received), "missing": missing,
            "p50_ms": round(pct(50), 1), "p95_ms": round(pct(95), 1), "p99_ms": round(pct(99), 1),
            "max_ms": round(latencies[-1], 1) if latencies else None,
            # where the time goes: commit → record timestamp (PostgreSQL + Debezium + Connect's producer),
            # record timestamp → receipt (broker + consumer fetch)
            "to_kafka_p50_ms": round(pct(50, to_kafka), 1), "to_kafka_p99_ms": round(pct(99, to_kafka), 1),
            "consume_p50_ms": round(pct(50, from_kafka), 1), "consume_p99_ms": round(pct(99, from_kafka), 1),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "max_ms_per_5s": _max_per_window(run, 5.0),
            "load_avg_1m": round(os.getloadavg()[0], 1)}


def _max_per_window(run: Run, window: float) -> list[float]:
    """Worst latency of the rows committed in each ``window`` seconds: shows stalls over time."""
    if not run.received:
        return []
    start = min(run.commits.values())
    worst: dict[int, float] = {}
    for n, got in run.received.items():
        if n in run.commits:
            slot = int((run.commits[n] - start) // window)
            worst[slot] = max(worst.get(slot, 0.0), (got - run.commits[n]) * 1000)
    return [round(worst.get(i, 0.0)) for i in range(max(worst) + 1)]


_TOASTED_ROWS = """
INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash, status)
SELECT %(source)s, %(source)s || '-' || n, '긴 본문 정책 ' || n, %(content)s || n, '기관', repeat('e', 64), 'active'
  FROM generate_series(1, %(rows)s::int) AS n RETURNING id"""


def _count_updates(settings: Settings, source: str, expected: int, counts: dict[str, int], stop: threading.Event,
                   ready: threading.Event) -> None:
    """Count this run's update events on the topic, and those still carrying the placeholder."""
    consumer = Consumer({**settings.kafka.client_config(), "group.id": f"bench-{source}", "enable.auto.commit": False})
    _assign_at_end(settings, consumer, stop)
    ready.set()
    mine, placeholder = f'"source_system":"{source}"'.encode(), UNAVAILABLE.encode()
    while not stop.is_set() and counts["updates"] < expected:
        for m in consumer.consume(num_messages=5000, timeout=0.2):
            value = m.value()
            if m.error() or value is None or mine not in value or b'"op":"u"' not in value:
                continue
            counts["updates"] += 1
            counts["placeholders"] += placeholder in value
            counts["bytes"] += len(value)
    consumer.close()


def measure_toasted(settings: Settings, identity: str, rows: list[int], source: str, rate: float,
                    seconds: float) -> dict:
    """Status-only updates of ``rows`` (long content out of line) at ``rate``/s under ``identity``."""
    meter = CpuMeter(settings.stack.state_path, lambda: {})
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        conn.execute(f"ALTER TABLE policies REPLICA IDENTITY {identity.upper()}")
        time.sleep(2)
        total = int(rate * seconds)
        counts = {"updates": 0, "placeholders": 0, "bytes": 0}
        stop, ready = threading.Event(), threading.Event()
        counter = threading.Thread(target=_count_updates, args=(settings, source, total, counts, stop, ready),
                                   daemon=True)
        counter.start()
        ready.wait(60)
        wal_before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        before, started = meter.sample(), time.perf_counter()
        for n in range(total):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            conn.execute("UPDATE policies SET status = CASE status WHEN 'active' THEN 'rejected' ELSE 'active' END,"
                         " updated_at = now() WHERE id = %s", (rows[n % len(rows)],))
        deadline = time.monotonic() + 120
        while counts["updates"] < total and time.monotonic() < deadline:
            time.sleep(0.1)
        cpu = CpuMeter.since(before, meter.sample())
        wall = time.perf_counter() - started
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (wal_before,)).fetchone()[0]
        stop.set()
        counter.join(10)
    per_change = {name: round(cpu.get(name, 0.0) / total * 1e6) for name in ("kafka-connect", "postgres", "kafka")}
    return {"identity": identity, "updates": total, "received": counts["updates"],
            "placeholders": counts["placeholders"], "mean_message_bytes": counts["bytes"] // max(1, counts["updates"]),
            "wal_bytes_per_update": int(wal) // total, "cpu_us_per_update": per_change, "seconds": round(wall, 1),
            "load_avg_1m": round(os.getloadavg()[0], 1)}


def _configurations(sets: list[str]) -> list[dict[str, str]]:
    """``["k=a", "k=b", "j=c"]`` → one configuration per value of the first key, each with the other keys."""
    if not sets:
        return [{}]
    by_key: dict[str, list[str]] = {}
    for item in sets:
        key, _, value = item.partition("=")
        by_key.setdefault(key, []).append(value)
    first, *rest = by_key
    fixed = {k: v[-1] for k, v in by_key.items() if k != first}
    return [{first: value, **fixed} for value in by_key[first]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    lat = sub.add_parser("latency", help="p50/p99 commit→Kafka at a fixed rate, one row per transaction")
    lat.add_argument("--rate", type=float, default=200)
    lat.add_argument("--seconds", type=float, default=30)
    lat.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    thr = sub.add_parser("throughput", help="latency at increasing rates; the highest with p99 < 1 s")
    thr.add_argument("--rates", default="1000,2000,4000,6000,8000,12000")
    thr.add_argument("--seconds", type=float, default=20)
    thr.add_argument("--rows-per-tx", type=int, default=20)
    thr.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    toast = sub.add_parser("toasted", help="status-only updates of rows with out-of-line content, per identity")
    toast.add_argument("--identities", default="full,default,full,default", help="REPLICA IDENTITY per run, in order")
    toast.add_argument("--rows", type=int, default=2000, help="rows of ~9 KB incompressible content")
    toast.add_argument("--rate", type=float, default=500, help="updates/s (one per transaction)")
    toast.add_argument("--seconds", type=float, default=30)
    toast.set_defaults(sets=[])  # the shipped connector configuration only
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout still runs the clean-up below

    base = load_settings(None)
    settings = bench_settings(base, secrets.token_hex(3))
    with connect(settings.postgres, role="owner", autocommit=True) as conn:
        ensure_replication_access(conn, settings.postgres)
    results = []
    try:
        for overrides in _configurations(args.sets):
            apply_connector(settings, overrides=overrides)
            wait_until_running(settings, timeout=300)
            time.sleep(3)  # let the task settle after a config change
            if args.mode == "toasted":
                source = f"bench-toast-{secrets.token_hex(3)}"
                results.append({"source_system": source})
                long_text = incompressible_hangul(3000, seed=7)
                with connect(settings.postgres, role="owner", autocommit=True) as conn:
                    rows = [r[0] for r in conn.execute(_TOASTED_ROWS, {"source": source, "rows": args.rows,
                                                                      "content": long_text}).fetchall()]
                time.sleep(5)  # let the inserts stream before the first measurement
                try:
                    for identity in args.identities.split(","):
                        result = measure_toasted(settings, identity, rows, source, args.rate, args.seconds)
                        print(json.dumps(result), flush=True)
                finally:
                    with connect(settings.postgres, role="owner", autocommit=True) as conn:
                        conn.execute("ALTER TABLE policies REPLICA IDENTITY DEFAULT")  # migration 0009
            elif args.mode == "latency":
                result = measure(settings, args.rate, args.seconds, rows_per_tx=1)
                result["config"] = overrides or "shipped"
                results.append(result)
                print(json.dumps(result), flush=True)
            else:
                for rate in (float(r) for r in args.rates.split(",")):
                    result = measure(settings, rate, args.seconds, rows_per_tx=args.rows_per_tx)
                    result["config"] = overrides or "shipped"
                    results.append(result)
                    print(json.dumps(result), flush=True)
                    if result["p99_ms"] > 1000 or result["missing"]:
                        break
    finally:
        # Deleting the rows between rates would stream one delete and one tombstone per row into the
        # next rate's measurement window: they go only once the connector is gone.
        delete_connector(settings, drop_replication=True)
        with connect(settings.postgres, role="owner", autocommit=True) as conn:
            for result in results:
                conn.execute("DELETE FROM policies WHERE source_system = %s", (result["source_system"],))
    return 0


if __name__ == "__main__":
    sys.exit(main())
