"""The four sink processes, supervised as the main job supervises them (``console.supervisor``).

A process that dies — killed by a scenario, or exiting on its own — is restarted by the same
supervisor ``aegis run`` uses (1 s backoff first), and every restart is counted.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from console.supervisor import ProcessSpec, Supervisor
from testkit.targets import TARGETS


class SinkPipeline:
    def __init__(self, env: dict[str, str], log_dir: Path):
        aegis = str(Path(sys.executable).parent / "aegis")
        self.log_dir = log_dir
        self.events: list[str] = []
        specs = [ProcessSpec(f"sink-{t}", [aegis, "sinks", "run", t], env) for t in TARGETS]
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

    def pid(self, target: str) -> int | None:
        with self._lock:
            return self.supervisor.pids()[f"sink-{target}"]

    def kill(self, target: str) -> None:
        """SIGKILL the sink's process (the supervisor notices and restarts it)."""
        pid = self.pid(target)
        assert pid is not None, f"sink-{target} is not running"
        os.kill(pid, signal.SIGKILL)

    def wait_restarted(self, target: str, old_pid: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid(target)
            if pid is not None and pid != old_pid:
                return
            time.sleep(0.05)
        raise AssertionError(f"sink-{target} was not restarted within {timeout:.0f} s (logs in {self.log_dir})")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            self.supervisor.stop()
