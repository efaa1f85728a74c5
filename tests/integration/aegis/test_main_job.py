"""The main job end to end (`aegis run`, behind `make run`), for a bounded time on the real stack,
with a new user's settings (RECONCILE_INTERVAL one hour): every sample record is scored by the
reconciler's first pass and every active one reaches all four targets through the change stream
(nothing dead-lettered), `aegis status` converges to zero lag with target counts equal to
PostgreSQL's active count, and a SIGKILLed sink is restarted by the supervisor. The local
Prometheus scrapes every process it starts."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.conftest import running_stack
from testkit.targets import wait_until

# Its own bound: it may start the whole stack (first test of a session) before the main job runs.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CONVERGE_SECONDS = 420


class MainJob:
    def __init__(self, env: dict[str, str]):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "console.cli", "run", "--progress-every", "10",
                                      "--duration", "1200"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, **env})
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        for line in self.seen:
            if (match := re.search(pattern, line)):
                return match
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.proc.poll() is None, "main job exited:\n" + "\n".join(self.seen[-40:])
                continue
            print(f"[main job] {line}")
            self.seen.append(line)
            if (match := re.search(pattern, line)):
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n" + "\n".join(self.seen[-40:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=90)
        finally:
            while not self.lines.empty():
                self.seen.append(self.lines.get())


def _status(env: dict[str, str]) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "console.cli", "status", "--json"], capture_output=True,
                            text=True, env={**os.environ, **env}, timeout=120)
    return result.returncode, json.loads(result.stdout)


def _converged(status: dict) -> bool:
    active = status["postgres_active"]
    return bool(active) and all(s["lag_events"] == 0 and s["target_count"] == active and s["state"] == "running"
                                for s in status["sinks"])


def _wait_converged(env: dict[str, str], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        code, status = _status(env)
        if _converged(status):
            return status
        time.sleep(5)
    raise AssertionError(f"status did not converge within {timeout}s: {json.dumps(status, indent=1)[:3000]}")


def _dead_letters(status: dict) -> int:
    return status["dead_letters"] or 0


def _scraped(settings) -> dict[str, list[str]]:
    """Health of every target the local Prometheus scrapes, by job."""
    answer = httpx.get(f"http://127.0.0.1:{settings.stack.prometheus_port}/api/v1/targets", timeout=10).json()
    jobs: dict[str, list[str]] = {}
    for target in answer["data"]["activeTargets"]:
        jobs.setdefault(target["labels"]["job"], []).append(target["health"])
    return jobs


def _every_process_scraped(settings) -> bool:
    jobs = _scraped(settings)
    expected = {"aegis-sinks": 4, "aegis-collector": 1, "aegis-reconciler": 1, "aegis-pipeline": 1}
    return all(jobs.get(job, []).count("up") == count for job, count in expected.items())


def _prometheus_value(settings, promql: str) -> float | None:
    answer = httpx.get(f"http://127.0.0.1:{settings.stack.prometheus_port}/api/v1/query", params={"query": promql},
                       timeout=10).json()["data"]["result"]
    return float(answer[0]["value"][1]) if answer else None


def test_main_job_fills_every_target_and_survives_a_killed_sink(stack):
    env = {"RECONCILE_INTERVAL": "3600"}  # the default: the first pass alone must promote the samples
    _, before = _status(env)
    with running_stack(stack, ["prometheus"]):
        _main_job(stack, env, before)


def _main_job(stack, env: dict[str, str], before: dict) -> None:
    job = MainJob(env)
    try:
        job.wait_for(r"connector .*: running", 300)
        job.wait_for(r"^  total ", 180)  # the first collection pass, before the supervised processes
        job.wait_for(r"main job running", 60)
        status = _wait_converged(env, CONVERGE_SECONDS)
        assert {s["name"] for s in status["sinks"]} == {"search", "redis", "neo4j", "milvus"}
        assert status["policies_by_status"].get("active", 0) == status["postgres_active"] > 0
        assert status["policies_by_status"].get("pending_validation", 0) == 0, status["policies_by_status"]
        samples = {src for src in status["policies_by_source"]}
        assert {"bizinfo", "kstartup", "youthcenter", "gov24", "korea_rss"} <= samples, samples
        assert _dead_letters(status) == _dead_letters(before), "changes were dead-lettered"

        # the local Prometheus scrapes every process the main job started, the reconciler included
        deadline = time.monotonic() + 60
        while not _every_process_scraped(stack) and time.monotonic() < deadline:
            time.sleep(2)
        assert _every_process_scraped(stack), _scraped(stack)
        # the reconciler's first pass may end after the status converged: wait for its next scrape
        good_passes = 'sum(reconcile_passes_total{result=~"consistent|repaired"})'
        wait_until(lambda: (_prometheus_value(stack, good_passes) or 0) >= 1, 120,
                   "a consistent or repaired reconcile pass scraped by Prometheus", every=2)
        assert _prometheus_value(stack, "min(connector_running)") == 1
        assert _prometheus_value(stack, "min(target_up)") == 1

        pid = int(job.wait_for(r"sink-redis: started \(pid (\d+)\)", 5).group(1))
        os.killpg(pid, signal.SIGKILL)
        job.wait_for(r"sink-redis: exited with code -9; restarting", 60)
        job.wait_for(r"sink-redis: started \(pid (?!%d\))\d+\)" % pid, 120)
        _wait_converged(env, 180)
    finally:
        code = job.stop()
    assert code == 0, "\n".join(job.seen[-40:])
    assert any(line.startswith("sink-search: stopped") for line in job.seen)
