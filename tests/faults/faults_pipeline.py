"""The four sink processes, supervised as the main job supervises them (``console.supervisor``).

A process that dies — killed by a scenario, or exiting on its own — is restarted by the same
supervisor ``aegis run`` uses (1 s backoff first), and every restart is counted. A scenario can
add a second member to every sink's consumer group (named as the main job names them).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from aegis.changestream.groups import group_members
from aegis.settings import Settings
from console.ops.mainjob import member_name
from console.supervisor import ProcessSpec, Supervisor
from testkit.targets import TARGETS


class SinkPipeline:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.aegis = str(Path(sys.executable).parent / "aegis")
        self.env = env
        self.log_dir = log_dir
        self.events: list[str] = []
        self.members = 1
        specs = [ProcessSpec(f"sink-{t}", [self.aegis, "sinks", "run", t], env) for t in TARGETS]
        self.supervisor = Supervisor(specs, log_dir, report=self._report, stop_grace=60.0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="faults-supervisor", daemon=True)

    def _report(self, line: str) -> None:
        self.events.append(f"{time.strftime('%H:%M:%S')} {line}")
        print(f"[supervisor] {line}", flush=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                self.supervisor.poll()

    def start(self) -> None:
        with self._lock:
            self.supervisor.start_all()
        self._thread.start()

    def restarts(self) -> int:
        return sum("exited with code" in e for e in self.events)

    def pid(self, target: str, member: int = 0) -> int | None:
        with self._lock:
            return self.supervisor.pids()[member_name(target, member)]

    def kill(self, target: str, member: int = 0) -> None:
        """SIGKILL one process of the sink (the supervisor notices and restarts it)."""
        pid = self.pid(target, member)
        assert pid is not None, f"{member_name(target, member)} is not running"
        os.kill(pid, signal.SIGKILL)

    def wait_restarted(self, target: str, old_pid: int, timeout: float = 60.0, member: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid(target, member)
            if pid is not None and pid != old_pid:
                return
            time.sleep(0.05)
        raise AssertionError(f"{member_name(target, member)} was not restarted within {timeout:.0f} s "
                             f"(logs in {self.log_dir})")

    def add_members(self, settings: Settings, timeout: float = 90.0) -> None:
        """Start one more member of every sink and return once each group holds them all, every
        member with a share of the change topic's partitions."""
        index = self.members
        with self._lock:
            for t in TARGETS:
                self.supervisor.add(ProcessSpec(member_name(t, index), [self.aegis, "sinks", "run", t], self.env))
        self.members += 1
        topic = settings.sinks.topic(settings.kafka)
        deadline = time.monotonic() + timeout
        waiting = list(TARGETS)
        while waiting and time.monotonic() < deadline:
            waiting = [t for t in waiting
                       if not _shared(group_members(settings.kafka, f"{settings.sinks.group_id_prefix}{t}", topic)[1],
                                      self.members)]
            time.sleep(0.5)
        assert not waiting, f"no {self.members} members sharing the partitions within {timeout:.0f} s: {waiting}"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self.supervisor.stop()


def _shared(members, count: int) -> bool:
    return len(members) == count and all(m.partitions for m in members)
