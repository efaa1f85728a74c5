"""One fault under load, from a converged pipeline to a converged pipeline, measured.

1. the pipeline must start converged (every target equals PostgreSQL's active view);
2. the steady load runs ``pre`` seconds, the fault is injected and lasts until it *ends* (the
   killed sink restarted, the stopped server healthy again, the last poison record produced);
3. the load goes on ``tail`` seconds, then stops;
4. the check runs until clean (or ``timeout``): convergence = clean check's end − fault end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aegis.settings import Settings
from devstack.manager import StackManager
from testkit.load import Generator
from testkit.machine import LoadSampler
from tests.faults.faults_check import by_sink, dead_letters_since, dlq_offsets, wait_converged
from tests.faults.faults_cluster import kill_change_topic_leader, kill_task_worker
from tests.faults.faults_env import TARGET_SERVERS
from tests.faults.faults_load import SteadyLoad
from tests.faults.faults_pipeline import SinkPipeline
from tests.faults.faults_poison import produce_poison
from tests.faults.faults_report import FaultResult


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str          # kill | stop | restart | poison | add-members | kill-members | kill-broker | kill-worker
    subject: str = ""  # the sink (kill), the server (stop, restart)
    hold: float = 0.0  # seconds a stopped server stays down
    poison: int = 0    # poison records (poison)


def scenarios(stop_seconds: float, poison: int, *, brokers: int = 1, workers: int = 1) -> list[Fault]:
    """Every fault; the cluster profile's two only on a stack of three Kafka nodes / two Connect workers."""
    cluster = ([Fault("SIGKILL broker leading the change topic", "kill-broker")] if brokers > 1 else []) + (
        [Fault("SIGKILL Connect worker running the Debezium task", "kill-worker")] if workers > 1 else [])
    return ([Fault(f"SIGKILL sink {t}", "kill", t) for t in TARGET_SERVERS]
            + [Fault(f"{s} stopped {stop_seconds:.0f} s", "stop", s, hold=stop_seconds) for s in TARGET_SERVERS.values()]
            + [Fault(f"{s} restarted", "restart", s) for s in ("kafka-connect", "kafka", "postgres")]
            + cluster
            + [Fault(f"{poison} poison records", "poison", poison=poison)]
            # last: from here on every sink runs two members
            + [Fault("a second member joins every sink", "add-members"),
               Fault("SIGKILL one of two members of every sink", "kill-members")])


@dataclass
class Timing:
    rate: float = 20.0
    pre: float = 10.0
    tail: float = 5.0
    goal: float = 30.0
    timeout: float = 180.0


class FaultSuite:
    def __init__(self, settings: Settings, pipeline: SinkPipeline, generator: Generator, timing: Timing):
        self.settings, self.pipeline, self.generator, self.timing = settings, pipeline, generator, timing
        self.stack = StackManager(settings)
        self.results: list[FaultResult] = []

    def _say(self, line: str) -> None:
        print(f"[faults {time.strftime('%H:%M:%S')}] {line}", flush=True)

    def _inject(self, fault: Fault) -> set[tuple[int, int]]:
        """Inject ``fault`` and return when it has ended; the poison records' positions (if any)."""
        if fault.kind == "kill":
            old = self.pipeline.pid(fault.subject)
            self.pipeline.kill(fault.subject)
            self.pipeline.wait_restarted(fault.subject, old)
        elif fault.kind in ("stop", "restart"):
            self.stack.down([fault.subject], progress=self._say)
            time.sleep(fault.hold)
            self.stack.up([fault.subject], progress=self._say)
        elif fault.kind == "kill-broker":
            kill_change_topic_leader(self.settings, self.stack, self._say)
        elif fault.kind == "kill-worker":
            kill_task_worker(self.settings, self.stack, self._say)
        elif fault.kind == "add-members":
            self.pipeline.add_members(self.settings)
        elif fault.kind == "kill-members":
            old = {t: self.pipeline.pid(t) for t in TARGET_SERVERS}
            for t in TARGET_SERVERS:
                self.pipeline.kill(t)
            for t, pid in old.items():
                self.pipeline.wait_restarted(t, pid)
        elif fault.kind == "poison":
            return produce_poison(self.settings, self.settings.sinks.topic(self.settings.kafka), fault.poison,
                                  seconds=10.0)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        return set()

    def run(self, fault: Fault) -> FaultResult:
        t = self.timing
        if fault.kind == "kill-members" and self.pipeline.members < 2:  # run alone (-k): its second members first
            self.pipeline.add_members(self.settings)
        baseline = wait_converged(self.settings, t.timeout)
        if not baseline.clean:
            return self._record(FaultResult(fault=fault.name, rate=t.rate, achieved=0, changes=0, fault_seconds=0,
                                            detail=f"not converged before the fault: {baseline.describe()}"))
        dlq_start, restarts = dlq_offsets(self.settings), self.pipeline.restarts()
        machine_load = LoadSampler()
        machine_load.start()
        load = SteadyLoad(self.settings, self.generator, t.rate)
        load.start()
        time.sleep(t.pre)
        self._say(f"{fault.name}: injecting")
        started = time.monotonic()
        try:
            poison = self._inject(fault)
        finally:
            ended = time.monotonic()
            self._say(f"{fault.name}: ended after {ended - started:.1f} s")
            time.sleep(t.tail)
            load.finish()
        final = wait_converged(self.settings, t.timeout)
        machine_load.stop()
        converged = final.finished - ended if final.clean else None
        self._say(f"{fault.name}: {'converged after %.1f s' % converged if final.clean else 'NOT converged'}; "
                  f"{load.committed} changes, {load.errors} failed")
        result = FaultResult(fault=fault.name, rate=t.rate, achieved=round(load.achieved_rate, 1),
                             changes=load.committed, write_errors=load.errors,
                             fault_seconds=round(ended - started, 1), lost=final.total("lost"),
                             stale=final.total("stale"), extra=final.total("extra"),
                             lsn_mismatch=final.total("lsn_mismatch"),
                             convergence_seconds=None if converged is None else round(converged, 1),
                             check_seconds=round(final.finished - final.started, 1),
                             per_target={n: round(at - ended, 1) for n, at in final.clean_since.items()},
                             restarts=self.pipeline.restarts() - restarts, loadavg=machine_load.summary())
        problems = [] if final.clean else [final.describe()]
        letters = dead_letters_since(self.settings, dlq_start)
        result.dead_letters = len(letters)
        result.expected_dead_letters = len(poison) * len(TARGET_SERVERS)
        problems += dead_letter_problems(letters, poison)
        if converged is not None and converged > t.goal:
            problems.append(f"converged after {converged:.1f} s (goal ≤ {t.goal:.0f} s)")
        if load.errors:
            self._say(f"load: {load.errors} changes failed, last: {load.last_error}")
        result.passed = not problems
        result.detail = "; ".join(problems)
        return self._record(result)

    def _record(self, result: FaultResult) -> FaultResult:
        self.results.append(result)
        return result


def dead_letter_problems(letters, poison: set[tuple[int, int]]) -> list[str]:
    """Every sink dead-lettered exactly the poison records, each with an error code and a reason."""
    problems = []
    grouped = by_sink(letters)
    for sink in TARGET_SERVERS:
        mine = grouped.pop(sink, [])
        got = {(d.original_partition, d.original_offset) for d in mine}
        if got != poison or len(mine) != len(poison):
            problems.append(f"sink {sink} dead-lettered {len(mine)} message(s) ({len(got - poison)} not poison, "
                            f"{len(poison - got)} poison missing)")
        unexplained = [d.ref for d in mine if not (d.error_code and d.error_code != "?" and d.error_message)]
        if unexplained:
            problems.append(f"sink {sink}: dead letters without error code or reason: {unexplained[:5]}")
    if grouped:
        problems.append(f"dead letters from unknown sinks: {sorted(grouped)}")
    return problems
