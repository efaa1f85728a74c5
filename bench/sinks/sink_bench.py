"""Sink benchmarks through the real path: PostgreSQL commit → Debezium → Kafka → sink → target.

    .venv/bin/python -m bench.sinks.sink_bench latency --sink search --rate 200 --seconds 30
    .venv/bin/python -m bench.sinks.sink_bench throughput --sink redis --rates 500,1000,2500,4000

``latency``: single-row UPDATE commits at ``--rate``/s over a working set of policies; a poller
reads the target (a *search* query through the read alias for the search sink — what a user
sees after refresh —, the stored version hash for Redis) every ~20 ms and records, per change,
commit → visible. Reports p50/p95/p99.

``throughput``: for each rate, every 100 ms one UPDATE statement changes rate/10 rows; the last
row of each statement is its sentinel and its commit → visible time is that tick's lag. Reports
per rate the lag p50/p99 and whether the sink kept up (lag p99 < 2 s); the best sustained rate
is the highest that kept up.

The sink runs as its own process (`aegis sinks run NAME`) with a fresh namespace and consumer
group starting at the topic's end. Needs the local stack and the Debezium connector running.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from aegis.db import connect
from aegis.settings import Settings, load_settings
from testkit.namespaces import run_env
from testkit.targets import SinkProcess, build_reader, percentile, start_group_at_end  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


class Target:
    """Reads the content hash the target shows for a set of ids (a ``testkit.targets`` reader)."""

    def __init__(self, name: str, settings: Settings):
        self.name, self.reader = name, build_reader(name, settings)

    def visible_hashes(self, ids: list[int]) -> dict[int, str]:
        return {i: v.content_hash for i, v in self.reader.versions(ids, markers=False).items() if not v.removed}

    def cleanup(self) -> None:
        self.reader.cleanup()


class Bench:
    def __init__(self, sink: str, working_set: int):
        self.ns = secrets.token_hex(4)
        self.env = run_env(self.ns, [sink])
        os.environ.update(self.env)
        self.settings = load_settings(env_file=None)
        self.sink_name = sink
        self.conn = connect(self.settings.postgres, role="owner", autocommit=True)
        start_group_at_end(self.settings, f"bench-{self.ns}-{sink}")  # before the inserts: the sink must see them
        self.ids = [r[0] for r in self.conn.execute(
            "INSERT INTO policies (source_system, source_id, title, content, issuing_organization, content_hash, status)"
            " SELECT 'bench', %s || '-' || g, '벤치 정책 ' || g, '지원 내용', '기관', md5(%s || g) || md5(g::text),"
            " 'active' FROM generate_series(1, %s) g RETURNING id", (self.ns, self.ns, working_set)).fetchall()]
        self.target = Target(sink, self.settings)
        log = self.settings.stack.state_path / "logs" / f"bench-{sink}-{self.ns}.log"
        self.log_path = log
        self.process = SinkProcess(sink, self.env, log)
        try:
            self.wait_visible(self.current_hashes(self.ids), timeout=180)
        except BaseException:
            self.close()
            raise

    def current_hashes(self, ids: list[int]) -> dict[int, str]:
        rows = self.conn.execute("SELECT id, content_hash FROM policies WHERE id = ANY(%s)", (ids,)).fetchall()
        return {r[0]: r[1].strip() for r in rows}

    def wait_visible(self, expected: dict[int, str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ids = list(expected)
        while time.monotonic() < deadline:
            seen: dict[int, str] = {}
            for start in range(0, len(ids), 1000):
                seen.update(self.target.visible_hashes(ids[start:start + 1000]))
            if all(seen.get(i) == h for i, h in expected.items()):
                return
            time.sleep(0.2)
        raise SystemExit(f"the sink did not make the working set visible within {timeout:.0f}s (log {self.log_path})")

    def close(self) -> None:
        self.process.stop()
        self.target.cleanup()
        self.conn.execute("DELETE FROM policies WHERE id = ANY(%s)", (self.ids,))
        self.conn.close()


def run_probe(bench: Bench, pending: dict[int, tuple[str, float]], lock: threading.Lock, samples: list[float],
              stop: threading.Event) -> None:
    """Resolve pending (id → expected hash, commit time) when the target shows that hash."""
    while not stop.is_set() or pending:
        with lock:
            snapshot = dict(pending)
        if snapshot:
            seen = bench.target.visible_hashes(list(snapshot))
            now = time.monotonic()
            with lock:
                for policy_id, (digest, committed) in snapshot.items():
                    if seen.get(policy_id) == digest and pending.get(policy_id, (None,))[0] == digest:
                        samples.append(now - committed)
                        del pending[policy_id]
        time.sleep(0.02)
        if stop.is_set() and time.monotonic() > getattr(stop, "deadline", float("inf")):
            break


def latency(args) -> dict:
    # each id is changed once every 10 s: a change is only superseded (unmeasured) if it took longer than that
    bench = Bench(args.sink, working_set=max(args.rate * 10, 100))
    superseded = [0]
    pending: dict[int, tuple[str, float]] = {}
    samples: list[float] = []
    lock, stop = threading.Lock(), threading.Event()
    probe = threading.Thread(target=run_probe, args=(bench, pending, lock, samples, stop), daemon=True)
    probe.start()
    writers = max(1, min(8, args.rate // 50))  # single-row commits: several connections reach the rate
    counts = [0] * writers
    started = time.monotonic()

    def write(slot: int) -> None:
        conn = connect(bench.settings.postgres, role="owner", autocommit=True)
        own = bench.ids[slot::writers]
        interval, n = writers / args.rate, 0
        try:
            while time.monotonic() - started < args.seconds:
                policy_id, digest = own[n % len(own)], secrets.token_hex(32)
                conn.execute("UPDATE policies SET content_hash = %s, updated_at = now() WHERE id = %s", (digest, policy_id))
                with lock:
                    superseded[0] += policy_id in pending
                    pending[policy_id] = (digest, time.monotonic())
                n += 1
                counts[slot] = n
                delay = started + n * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        finally:
            conn.close()

    threads = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(writers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        n = sum(counts)
        achieved = n / (time.monotonic() - started)
        stop.deadline = time.monotonic() + 30  # type: ignore[attr-defined]
        stop.set()
        probe.join(40)
    finally:
        bench.close()
    return {"sink": args.sink, "target_rate": args.rate, "achieved_rate": round(achieved, 1), "changes": n,
            "samples": len(samples), "unresolved": len(pending), "superseded_unmeasured": superseded[0],
            "p50_ms": round(percentile(samples, 0.50) * 1000), "p95_ms": round(percentile(samples, 0.95) * 1000),
            "p99_ms": round(percentile(samples, 0.99) * 1000), "max_ms": round(max(samples) * 1000)}


def throughput(args) -> dict:
    rates = [int(r) for r in args.rates.split(",")]
    # rows are reused every 10 s: a sentinel is only overwritten (left unresolved) after that long
    bench = Bench(args.sink, working_set=max(rates) * 10)
    results = []
    try:
        for rate in rates:
            per_tick = max(rate // 10, 1)
            pending: dict[int, tuple[str, float]] = {}
            samples: list[float] = []
            lock, stop = threading.Lock(), threading.Event()
            probe = threading.Thread(target=run_probe, args=(bench, pending, lock, samples, stop), daemon=True)
            probe.start()
            started, tick, rows = time.monotonic(), 0, 0
            while time.monotonic() - started < args.seconds:
                offset = (tick * per_tick) % (len(bench.ids) - per_tick + 1)
                chunk = bench.ids[offset:offset + per_tick]
                sentinel = chunk[-1]
                digest = secrets.token_hex(32)
                # one statement, one transaction: every row gets a new hash; the sentinel's is known
                bench.conn.execute("UPDATE policies SET content_hash = CASE WHEN id = %s THEN %s ELSE "
                                   "encode(sha256((content_hash || 'x')::bytea), 'hex') END, updated_at = now() "
                                   "WHERE id = ANY(%s)", (sentinel, digest, chunk))
                with lock:
                    pending[sentinel] = (digest, time.monotonic())
                tick += 1
                rows += len(chunk)
                delay = started + tick * 0.1 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            achieved = rows / (time.monotonic() - started)
            stop.deadline = time.monotonic() + 60  # type: ignore[attr-defined]
            stop.set()
            probe.join(70)
            ok = bool(samples) and not pending and percentile(samples, 0.99) < 2.0
            results.append({"rate": rate, "achieved_rate": round(achieved), "ticks": tick,
                            "lag_p50_ms": round(percentile(samples, 0.5) * 1000) if samples else None,
                            "lag_p99_ms": round(percentile(samples, 0.99) * 1000) if samples else None,
                            "unresolved": len(pending), "kept_up": ok})
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            time.sleep(3)
    finally:
        bench.close()
    kept = [r["achieved_rate"] for r in results if r["kept_up"]]
    return {"sink": args.sink, "runs": results, "best_sustained_rate": max(kept) if kept else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency", help="commit → visible p50/p99 at a fixed change rate")
    lat.add_argument("--sink", choices=["search", "redis"], required=True)
    lat.add_argument("--rate", type=int, default=200)
    lat.add_argument("--seconds", type=float, default=30)
    thr = sub.add_parser("throughput", help="highest change rate a sink sustains with lag p99 < 2 s")
    thr.add_argument("--sink", choices=["search", "redis"], required=True)
    thr.add_argument("--rates", default="500,1000,2500,4000")
    thr.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    load = os.getloadavg()
    result = latency(args) if args.command == "latency" else throughput(args)
    result["loadavg_at_start"] = [round(x, 1) for x in load]
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
