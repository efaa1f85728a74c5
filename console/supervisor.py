"""Supervise the long-running processes of the main job (collector scheduler, sinks, reconciler).

Each child runs as its own process group with its output in its own log file. A child that exits
unexpectedly is restarted with exponential backoff (reset once it has stayed up for a while) and
the restart is reported. ``stop()`` (or SIGINT/SIGTERM to the supervisor) sends SIGTERM to every
child, so each can finish or abandon its batch and commit only what it wrote, then SIGKILLs what is
still alive after the grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.process import stop_process_group

Report = Callable[[str], None]


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], log_dir: Path, report: Report = print, *,
                 base_backoff: float = 1.0, max_backoff: float = 60.0, stable_after: float = 60.0,
                 stop_grace: float = 30.0):
        self.children = [_Child(spec) for spec in specs]
        self.log_dir = log_dir
        self.report = report
        self.base_backoff, self.max_backoff = base_backoff, max_backoff
        self.stable_after, self.stop_grace = stable_after, stop_grace
        self._stopping = False

    def _start(self, child: _Child) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{child.spec.name}.log").open("ab") as log:
            child.proc = subprocess.Popen(child.spec.argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True,
                                          env={**os.environ, **child.spec.env})
        child.started_at = time.monotonic()
        self.report(f"{child.spec.name}: started (pid {child.proc.pid})")

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def add(self, spec: ProcessSpec) -> None:
        """Start one more supervised process (e.g. another member of a sink's consumer group)."""
        child = _Child(spec)
        self.children.append(child)
        self._start(child)

    def poll(self) -> None:
        """Restart children that died; call this regularly."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if now >= child.next_start and not self._stopping:
                    self._start(child)
                continue
            code = child.proc.poll()
            if code is None:
                if child.restarts and now - child.started_at > self.stable_after:
                    child.restarts = 0  # stayed up: the next crash starts the backoff afresh
                continue
            child.restarts += 1
            delay = min(self.max_backoff, self.base_backoff * 2 ** (child.restarts - 1))
            child.proc, child.next_start = None, now + delay
            self.report(f"{child.spec.name}: exited with code {code}; restarting in {delay:.0f}s "
                        f"(restart #{child.restarts}, log {self.log_dir / (child.spec.name + '.log')})")

    def pids(self) -> dict[str, int | None]:
        return {c.spec.name: (c.proc.pid if c.proc else None) for c in self.children}

    def stop(self) -> None:
        """SIGTERM every child, wait for a clean stop, SIGKILL after the grace period."""
        self._stopping = True
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + self.stop_grace
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                self.report(f"{child.spec.name}: stopped (exit {child.proc.returncode})")
            except subprocess.TimeoutExpired:
                stop_process_group(child.proc.pid, signal.SIGKILL, 5)
                child.proc.wait()
                self.report(f"{child.spec.name}: killed after {self.stop_grace:.0f}s")

    def run(self, tick: Callable[[], None] | None = None, interval: float = 1.0,
            should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start everything and supervise until SIGINT/SIGTERM or ``should_stop()``; then stop cleanly."""
        received: list[int] = []
        previous = {sig: signal.signal(sig, lambda s, _f: received.append(s))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start_all()
            while not received and not should_stop():
                time.sleep(interval)
                self.poll()
                if tick:
                    tick()
        finally:
            self.report("stopping ...")
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
