"""The machine a run measured on, and its load while it ran (benchmarks, fault suite)."""

from __future__ import annotations

import os
import platform
import threading
from datetime import date
from pathlib import Path


class LoadSampler(threading.Thread):
    """1-minute load average, sampled every second while a rate runs."""

    def __init__(self):
        super().__init__(name="loadavg", daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append(os.getloadavg()[0])
            self.done.wait(1.0)

    def stop(self) -> None:
        self.done.set()
        self.join(5)

    def summary(self) -> dict:
        s = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(s), 1), "mean": round(sum(s) / len(s), 1), "max": round(max(s), 1)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in _lines("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem / 2**20, 1),
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "loadavg_at_start": [round(x, 1) for x in os.getloadavg()], "date": date.today().isoformat()}


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []
