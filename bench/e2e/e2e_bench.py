"""End-to-end benchmark (issue 10): PostgreSQL commit → visible in every target, at fixed change rates.

    .venv/bin/python -m bench.e2e.e2e_bench --rates 50,200,1000 --seconds 30 --drain 30 \\
        --targets search,neo4j,redis,milvus --milvus-embedder onnx-int8       # the measurement
    .venv/bin/python -m bench.e2e.e2e_bench --rates 20 --seconds 15 --no-results   # a quick check
    .venv/bin/python -m bench.e2e.e2e_bench --targets milvus --milvus-embedder torch   # Milvus, shipped fp32

Needs the local stack (postgres redis kafka kafka-connect neo4j opensearch milvus: ``aegis stack
up``), the schema (``aegis db migrate``) and the Debezium connector (``aegis connectors apply``).

A realistic mix of changes (``testkit/load.py``: inserts, content updates, status updates that take a
policy out of the active view and back, deletes) is committed to PostgreSQL at each rate for
``--seconds``; a poller per target reads the target directly (``testkit/targets.py``) every
~20 ms and records, per change and target, commit → visible with that change's LSN and content
(or absent, for removals). Before the first rate, ``--warmup`` seconds of unreported load at the lowest rate pay for the
servers' JIT and query planning. After each rate the pollers get ``--drain`` seconds to see the rest;
what they never saw (or saw superseded by a later change of the same policy first) counts as
never visible: it is in the percentiles as infinite and reported as ``> drain``.

The sinks run as ``aegis sinks run NAME`` processes with a fresh namespace per run (consumer
groups, index alias, key prefix, graph labels, collection alias), on a working set of
``max(200, max rate × --rest)`` active policies seeded first. search, neo4j and redis run
together; milvus (embedding is CPU-bound) runs afterwards on its own, with ``--milvus-embedder``.
A target still behind after a rate's drain gets its sink restarted on a consumer group at the
topic's end, so its backlog does not spill into the next rate.

Reports p50/p95/p99/max per target and rate, the highest rate each target sustains with p99 < 2 s
(among the rates given) and the machine (cores, load average during each rate); prints JSON,
writes the Markdown table into bench/RESULTS.md ("End to end (issue 10)") and a PNG plot
(matplotlib, the dev extra; skipped with a message if it is not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

from aegis.db import connect
from aegis.settings import Settings, load_settings
from bench.e2e import report
from testkit.cpu import CpuMeter
from testkit.load import DEFAULT_MIX, Generator, Poller, TargetLog, replay_reads, run_load
from testkit.namespaces import run_env
from testkit.policies import seed_policies
from testkit.targets import SERVER_OF, TARGETS, SinkProcess, build_reader, start_group_at_end

SLOW_TARGETS = ("milvus",)


class Session:
    """One namespace: seeded working set, a sink process and a reader per target."""

    def __init__(self, targets: list[str], working_set: int, extra_env: dict[str, str], rest: float,
                 poll_interval: float = 0.02, members: int = 1):
        self.ns = secrets.token_hex(4)
        self.members = members
        self.poll_interval = poll_interval
        self.targets, self.restarts = targets, 0
        self.idle_per_second: dict[str, float] | None = None
        self.env = {**run_env(self.ns, targets), **extra_env}
        os.environ.update(self.env)
        self.settings: Settings = load_settings(env_file=None)
        self.source = f"bench-e2e-{self.ns}"
        self.conn = connect(self.settings.postgres, role="owner", autocommit=True)
        self.readers = {t: build_reader(t, self.settings) for t in targets}
        self.processes: dict[str, list[SinkProcess]] = {}  # per target, its members (one consumer group)
        self.cpu = CpuMeter(self.settings.stack.state_path,
                            lambda: {t if i == 0 else f"{t} #{i + 1}": p.process.pid
                                     for t, members in self.processes.items()
                                     for i, p in enumerate(members) if p.alive()})
        try:
            for t in targets:
                start_group_at_end(self.settings, f"{self.env['SINKS_GROUP_ID_PREFIX']}{t}")
            hashes = self.seed(working_set)
            for t in targets:
                self.start(t)
            self.generator = Generator(self.source, list(hashes), hashes, DEFAULT_MIX, rest=rest)
            self.wait_seeded(hashes, timeout=300 + working_set / (20 if "milvus" in targets else 500))
        except BaseException:
            self.close()
            raise

    def seed(self, count: int) -> dict[int, str]:
        return seed_policies(self.conn, self.source, count)

    def start(self, target: str, group_suffix: str = "") -> None:
        env = dict(self.env)
        if group_suffix:
            env["SINKS_GROUP_ID_PREFIX"] = f"bench-{self.ns}-{group_suffix}-"
            start_group_at_end(self.settings, f"{env['SINKS_GROUP_ID_PREFIX']}{target}")
        logs = self.settings.stack.state_path / "logs"
        self.processes[target] = [SinkProcess(target, env, logs / f"bench-e2e-{target}-{self.ns}-{i + 1}.log",
                                              metrics_port=0, own_session=True) for i in range(self.members)]

    def restart_at_end(self, target: str) -> None:
        """Skip a lagging sink's backlog: a new consumer group starting at the topic's end."""
        for process in self.processes[target]:
            process.stop()
        self.restarts += 1
        self.start(target, group_suffix=f"r{self.restarts}")

    def wait_seeded(self, hashes: dict[int, str], timeout: float) -> None:
        started = time.monotonic()
        left = set(self.targets)
        ids = list(hashes)
        while left and time.monotonic() - started < timeout:
            for t in sorted(left):
                dead = [p for p in self.processes[t] if not p.alive()]
                if dead:
                    raise SystemExit(f"sink {t} exited: see {dead[0].log}")
                try:
                    seen = {}
                    for start in range(0, len(ids), 1000):
                        seen.update(self.readers[t].versions(ids[start:start + 1000], markers=False))
                except Exception:  # noqa: BLE001 - not ready yet (index or collection being created)
                    continue
                if all(seen.get(i) is not None and seen[i].content_hash == h for i, h in hashes.items()):
                    print(f"{t}: working set of {len(ids)} visible after {time.monotonic() - started:.0f} s",
                          file=sys.stderr, flush=True)
                    left.discard(t)
            time.sleep(0.5)
        if left:
            raise SystemExit(f"working set not visible within {timeout:.0f} s in {', '.join(sorted(left))} "
                             f"(logs: {', '.join(str(p.log) for t in left for p in self.processes[t])})")

    def measure(self, rate: int, seconds: float, drain: float, writers: int, *, per_transaction: int = 1,
                last: bool = False) -> dict:
        logs = {t: TargetLog(t) for t in self.targets}
        pollers = [Poller(self.readers[t], logs[t], self.poll_interval) for t in self.targets]
        for p in pollers:
            p.start()
        load = report.LoadSampler()
        load.start()
        cpu_before, started = self.cpu.sample(), time.monotonic()
        changes, achieved = run_load(self.settings, self.generator, list(logs.values()), rate, seconds, writers,
                                     per_transaction)
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and any(log.pending for log in logs.values()):
            time.sleep(0.1)
        cpu = {"wall_s": round(time.monotonic() - started, 2), "seconds": self.cpu.since(cpu_before, self.cpu.sample())}
        for p in pollers:
            p.stop.set()
            p.join(30)
        load.stop()
        cpu["readers"] = self.readers_cost(pollers)
        result = {"rate": rate, "achieved_rate": round(achieved, 1), "changes": changes, "writers": writers,
                  "poll_interval_s": self.poll_interval,
                  "per_transaction": per_transaction,
                  "loadavg": load.summary(), "cpu": cpu, "targets": {}}
        for t, log in logs.items():
            result["targets"][t] = report.lag_summary(log, changes, drain, poll_errors=pollers[self.targets.index(t)].errors)
            if log.pending and not last:
                self.restart_at_end(t)
        return result

    def readers_cost(self, pollers: list[Poller]) -> dict[str, dict]:
        """What the pollers' reads cost each target's server, measured by making the same reads again
        (same number and sizes, over the working set) with the load stopped: per server, CPU seconds
        net of its idle burn and the seconds the replay took. Reads made during the load met fresher
        segments and busier caches, so this is a lower bound of what they cost then."""
        ids = list(self.generator.hashes)
        idle = self.idle_per_second or {}
        costs = {}
        for target, poller in zip(self.targets, pollers, strict=True):
            server = SERVER_OF[target]
            before, started = self.cpu.sample(), time.monotonic()
            failed = replay_reads(self.readers[target], poller.reads, ids)
            wall = time.monotonic() - started
            used = self.cpu.since(before, self.cpu.sample()).get(server, 0.0)
            costs[server] = {"reads": len(poller.reads), "ids": sum(poller.reads), "failed": failed,
                             "wall_s": round(wall, 2),
                             "cpu_s": round(max(0.0, used - idle.get(server, 0.0) * wall), 3)}
        return costs

    def idle_cpu(self, seconds: float) -> dict:
        """What every component burns with no load (sinks polling, servers ticking), per second."""
        before, started = self.cpu.sample(), time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - started
        self.idle_per_second = {k: round(v / wall, 4) for k, v in self.cpu.since(before, self.cpu.sample()).items()}
        return {"wall_s": round(wall, 2), "per_second": self.idle_per_second}

    def close(self) -> None:
        for members in self.processes.values():
            for process in members:
                process.stop()
        for reader in self.readers.values():
            reader.cleanup()
        self.conn.execute("DELETE FROM policies WHERE source_system = %s", (self.source,))
        self.conn.close()
        for key in self.env:
            os.environ.pop(key, None)


def run_group(targets: list[str], rates: list[int], args, extra_env: dict[str, str]) -> list[dict]:
    working_set = max(200, max(rates) * args.rest)
    if "milvus" in targets:
        working_set = min(working_set, args.milvus_working_set)
    print(f"== {','.join(targets)}: seeding {working_set} policies ...", file=sys.stderr, flush=True)
    session = Session(targets, working_set, extra_env, args.rest, args.poll_interval, args.members)
    results = []
    try:
        if args.warmup:  # not reported: first writes pay for JIT, query planning, index segments
            warm = session.measure(min(rates), args.warmup, args.drain, max(1, min(8, min(rates) // 50)))
            print(f"warm-up: {json.dumps(warm['targets'])}", file=sys.stderr, flush=True)
        if args.idle:
            idle = session.idle_cpu(args.idle)
            print(f"idle CPU: {json.dumps(idle)}", file=sys.stderr, flush=True)
        for n, rate in enumerate(rates):
            writers = args.writers or max(1, min(8, rate // 50))
            per_transaction = args.per_transaction or max(1, rate // 500)
            results.append(session.measure(rate, args.seconds, args.drain, writers, per_transaction=per_transaction,
                                           last=n == len(rates) - 1))
            if args.idle:
                results[-1]["cpu"]["idle_per_second"] = idle["per_second"]
            print(json.dumps(results[-1], ensure_ascii=False), file=sys.stderr, flush=True)
            time.sleep(2)
    finally:
        session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="50,200,1000", help="changes/s, comma-separated (default 50,200,1000)")
    parser.add_argument("--seconds", type=float, default=30, help="load duration per rate")
    parser.add_argument("--warmup", type=float, default=10, help="unreported load at the lowest rate first (s)")
    parser.add_argument("--drain", type=float, default=30, help="wait after each rate for the targets to catch up")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    parser.add_argument("--milvus-embedder", choices=["torch", "onnx", "onnx-int8"], default=None,
                        help="EMBEDDING_BACKEND of the Milvus sink (default: the configured one)")
    parser.add_argument("--milvus-working-set", type=int, default=2000, help="cap of Milvus' seeded policies")
    parser.add_argument("--rest", type=int, default=10, help="working set = max rate × this (seconds between "
                        "changes of one policy)")
    parser.add_argument("--writers", type=int, default=0, help="writer connections (default: rate/50, 1..8)")
    parser.add_argument("--per-transaction", type=int, default=0,
                        help="changes per writer transaction (default: rate/500, at least 1: one per change up "
                             "to 999/s; a Python writer tops out near 700 single-change commits/s here)")
    parser.add_argument("--poll-interval", type=float, default=0.02,
                        help="seconds between two reads of a target by its poller (default 0.02: the lag's "
                             "resolution; the reads load the targets' servers, and more so as a backlog grows — "
                             "0.25 for the sustained-rate runs, where the goal is 2 s)")
    parser.add_argument("--idle", type=float, default=10,
                        help="seconds of no load before the rates, to measure each component's idle CPU (0: skip)")
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="Markdown file to add the table to")
    parser.add_argument("--no-results", action="store_true", help="print only; write neither the results file nor the plot")
    parser.add_argument("--plot", type=Path, default=report.PLOT, help="PNG latency plot")
    parser.add_argument("--members", type=int, default=1,
                        help="processes per sink, sharing the change topic's partitions as one consumer group")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    fast = [t for t in TARGETS if t in targets and t not in SLOW_TARGETS]
    slow = [t for t in TARGETS if t in targets and t in SLOW_TARGETS]
    machine = report.machine()
    runs = []
    if fast:
        runs += [{"group": fast, **r} for r in run_group(fast, rates, args, {})]
    for t in slow:
        env = {"EMBEDDING_BACKEND": args.milvus_embedder} if args.milvus_embedder else {}
        group = [f"{t} ({args.milvus_embedder or os.environ.get('EMBEDDING_BACKEND', 'onnx')})"]
        runs += [{"group": group, **r} for r in run_group([t], rates, args, env)]
    summary = {"machine": machine, "command": " ".join(sys.argv), "runs": runs,
               "sustained": report.sustained(runs)}
    print(json.dumps(summary, ensure_ascii=False))
    print(report.markdown(summary))
    if not args.no_results:
        report.plot(summary, args.plot)
        report.write_results(args.results, summary)
        print(f"table added to {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
