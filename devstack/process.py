"""Process bookkeeping for the local stack: pid files that survive the CLI, safe liveness checks.

A pid file records the pid *and* the kernel start time of the process, so a recycled pid is
never mistaken for ours and ``aegis stack down`` only ever signals what the stack started.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie is dead; reap it if it is our child
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return None
    return fields[19]


@dataclass(frozen=True)
class PidFile:
    path: Path

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"pid": pid, "start_time": _start_time(pid)}))

    def read_live_pid(self) -> int | None:
        """The recorded pid if that very process is still alive, else None (and the stale file is removed)."""
        try:
            record = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        pid = record.get("pid")
        if isinstance(pid, int) and _start_time(pid) is not None and _start_time(pid) == record.get("start_time"):
            return pid
        self.remove()
        return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def is_alive(pid: int) -> bool:
    return _start_time(pid) is not None


def stop_process_group(pid: int, sig: int, timeout: float) -> bool:
    """Send ``sig`` to the group led by ``pid``; SIGKILL it if still alive after ``timeout``.

    Returns True when it stopped within the timeout by itself.
    """
    return stop_process_groups([(pid, sig)], timeout)[0]


def stop_process_groups(groups: list[tuple[int, int]], timeout: float) -> list[bool]:
    """``stop_process_group`` for several groups at once: each (leader pid, signal) is signalled
    first, then all are awaited together; one flag per group, in order."""
    for pid, sig in groups:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(pid) for pid, _ in groups):
        time.sleep(0.2)
    clean = [not is_alive(pid) for pid, _ in groups]
    for (pid, _), stopped in zip(groups, clean, strict=True):
        if not stopped:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            for _ in range(50):
                if not is_alive(pid):
                    break
                time.sleep(0.1)
    return clean


def tail(path: Path, lines: int = 25) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])
