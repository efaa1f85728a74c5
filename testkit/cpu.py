"""CPU time per component of the pipeline, from ``/proc``: where a benchmark's cores went.

A component is a process group (each local-stack server leads its own: ``.stack/pids``), one
process with its descendants (a sink), or this process (the benchmark's writers and pollers).
Times are user + system, including children the component has reaped (PostgreSQL backends that
ended). ``CpuMeter.sample()`` reads them all at once; the difference of two samples is the CPU
each component used in between.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
_EXITED = ("Z", "X")  # /proc/PID/stat states of a process that has exited: zombie, dead


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    pgrp: int
    own_seconds: float  # utime + stime
    reaped_seconds: float  # cutime + cstime: children it waited for

    @property
    def cpu_seconds(self) -> float:
        return self.own_seconds + self.reaped_seconds


def read_stat(pid: int | str) -> ProcStat | None:
    """One process's ``/proc/PID/stat``, or None if it is gone.

    A zombie counts as gone: it has exited, and its time reaches its parent's once reaped. Counted
    as alive, a stopped server whose parent never reaps it (a stack stopped while the tests' process
    lives on) would stay in ``stack_groups`` with its last total.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and ")"
    if fields[0] in _EXITED:
        return None
    # fields[0] is field 3 (state): ppid = 4, pgrp = 5, utime..cstime = 14..17
    own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    return ProcStat(int(pid), int(fields[1]), int(fields[2]), own / TICKS, reaped / TICKS)


def all_stats() -> list[ProcStat]:
    stats = (read_stat(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [s for s in stats if s is not None]


def group_cpu(stats: list[ProcStat], pgrp: int) -> float:
    return sum(s.cpu_seconds for s in stats if s.pgrp == pgrp)


def with_descendants(stats: list[ProcStat], roots: set[int]) -> list[ProcStat]:
    """The processes of ``roots`` (those alive) and every live descendant of theirs, each once."""
    children: dict[int, list[ProcStat]] = {}
    for s in stats:
        children.setdefault(s.ppid, []).append(s)
    found = {s.pid: s for s in stats if s.pid in roots}
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child.pid not in found:
                found[child.pid] = child
                todo.append(child.pid)
    return list(found.values())


def server_cpu(stats: list[ProcStat], pid: int) -> float:
    """A stack server's CPU: its process group and every live descendant of its members.

    A group alone misses PostgreSQL's backends and walsenders: each starts a session of its own, and
    a long-lived one (Debezium's, a pooled writer's) is never reaped into the postmaster's figure.
    """
    members = {s.pid for s in stats if s.pgrp == pid} | {pid}
    return sum(s.cpu_seconds for s in with_descendants(stats, members))


def tree_cpu(stats: list[ProcStat], root: int) -> float:
    """CPU of ``root`` and every live descendant."""
    return sum(s.cpu_seconds for s in with_descendants(stats, {root}))


def stack_groups(state_dir: Path) -> dict[str, int]:
    """The local stack's running servers: name → process group (its pid file's pid)."""
    groups = {}
    for pid_file in sorted((state_dir / "pids").glob("*.pid")):
        try:
            pid = json.loads(pid_file.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            continue
        if read_stat(pid) is not None:
            groups[pid_file.stem] = pid
    return groups


class CpuMeter:
    """Samples the CPU seconds of named components; ``since(earlier)`` gives the difference."""

    def __init__(self, state_dir: Path, sinks: Callable[[], dict[str, int]], own_name: str = "benchmark"):
        self.state_dir, self.sinks, self.own_name = state_dir, sinks, own_name

    def sample(self) -> dict[str, float]:
        stats = all_stats()
        values = {name: server_cpu(stats, pid) for name, pid in stack_groups(self.state_dir).items()}
        for name, pid in self.sinks().items():
            values[f"sink {name}"] = tree_cpu(stats, pid)
        own = read_stat(os.getpid())  # not its reaped children: those are sinks it restarted
        values[self.own_name] = own.own_seconds if own else 0.0
        return values

    @staticmethod
    def since(earlier: dict[str, float], later: dict[str, float]) -> dict[str, float]:
        """CPU seconds used per component between two samples (a component that restarted counts
        from zero, so its figure is a lower bound)."""
        return {name: round(max(0.0, value - earlier.get(name, 0.0)), 3) for name, value in later.items()}
